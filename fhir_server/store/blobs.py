"""The blob store: where Binary and attachment bytes live, behind one interface.

Two implementations: a local directory (``<data_dir>/blobs``, the default) and S3 or an
S3-compatible store (``FHIR_BLOB_STORE=s3``). ``open_blob_store(settings)`` picks one; the app opens
it in its lifespan and closes it on shutdown.

Contract of every store:

* ``put`` reads an async iterable of chunks, never the whole body at once. It sniffs the first
  bytes (see ``fhir_server.store.sniff``), validates them against the declared type and the
  purpose's allow-list, enforces ``max_bytes`` while streaming (``PayloadTooLarge``), and computes
  size and SHA-1 on the way. Keys are server-generated (32 hex characters); client file names
  never become paths. On any failure, cancellation included, nothing stays stored.
* ``open`` checks the key exists (``NotFound``) and the range is satisfiable
  (``RangeNotSatisfiable``, 416) before returning an async iterator of chunks; ``start`` and
  ``end`` are inclusive byte offsets, as in an HTTP ``Range`` header (``parse_range_header``
  turns one into them). Iterate it to the end (or ``aclose`` it) to free the file or connection.
* ``delete`` is idempotent; ``ping`` raises when the store is unusable; ``presigned_url`` gives a
  time-limited direct download URL (S3) or None (local).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from fhir_server.errors import FhirError, NotFound
from fhir_server.store.sniff import Purpose

if TYPE_CHECKING:
    from fhir_server.settings import Settings

__all__ = [
    "BlobStore",
    "Purpose",
    "RangeNotSatisfiable",
    "StoredBlob",
    "check_blob_key",
    "new_blob_key",
    "open_blob_store",
    "parse_range_header",
    "resolve_range",
    "safe_filename",
]

_KEY_PATTERN: Final = re.compile(r"[0-9a-f]{32}")
_RANGE_PATTERN: Final = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII)
_UNSAFE_FILENAME_CHARS: Final = re.compile(r"[^A-Za-z0-9._() -]+")
MAX_FILENAME_LENGTH: Final = 120


@dataclass(frozen=True)
class StoredBlob:
    """What ``put`` stored: ``sha1_base64`` is the value FHIR wants in ``Attachment.hash``."""

    key: str
    size: int
    sha1_base64: str
    content_type: str


class BlobStore(Protocol):
    async def put(
        self,
        *,
        chunks: AsyncIterable[bytes],
        content_type: str,
        max_bytes: int,
        purpose: Purpose | None = None,
    ) -> StoredBlob: ...

    async def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]: ...

    async def size(self, key: str) -> int: ...

    async def delete(self, key: str) -> None: ...

    async def ping(self) -> None: ...

    def presigned_url(
        self, key: str, *, content_type: str, expires: int = 300, download_name: str | None = None
    ) -> str | None: ...

    async def close(self) -> None: ...


class RangeNotSatisfiable(FhirError):
    """416: the requested byte range lies outside the content."""

    status, code = 416, "invalid"

    def __init__(self, *, size: int) -> None:
        super().__init__(
            "The requested byte range is not satisfiable.",
            headers={"Content-Range": f"bytes */{size}"},
        )


def new_blob_key() -> str:
    return secrets.token_hex(16)


def check_blob_key(key: str) -> str:
    """Return ``key`` if it has the shape of a key we generate; a malformed key cannot exist."""
    if _KEY_PATTERN.fullmatch(key) is None:
        raise NotFound("Blob not found.")
    return key


def resolve_range(*, start: int | None, end: int | None, size: int) -> tuple[int, int]:
    """Inclusive (first, last) offsets to read; ``end`` past the content is clamped."""
    first = 0 if start is None else start
    last = size - 1 if end is None else min(end, size - 1)
    if start is None and end is None:
        return first, last
    if first < 0 or first >= size or last < first:
        raise RangeNotSatisfiable(size=size)
    return first, last


def parse_range_header(value: str | None, *, size: int) -> tuple[int, int] | None:
    """Inclusive offsets for a single-range ``Range`` header, or None to send the whole content.

    Absent, malformed and multi-range headers are ignored (RFC 9110 allows serving the whole
    content); an unsatisfiable single range raises ``RangeNotSatisfiable``.
    """
    if value is None:
        return None
    match = _RANGE_PATTERN.fullmatch(value.strip().replace(" ", ""))
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":  # suffix range: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size=size)
        return max(size - suffix, 0), size - 1
    return resolve_range(start=int(first_text), end=int(last_text) if last_text else None, size=size)


def safe_filename(name: str | None) -> str | None:
    """A client file name reduced to harmless metadata (ASCII, no path), or None if nothing is left."""
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", base).strip(" ._")
    return cleaned[:MAX_FILENAME_LENGTH] or None


def _open_local(settings: Settings) -> BlobStore:
    from fhir_server.store.blob_local import LocalBlobStore

    return LocalBlobStore(root=settings.data_dir / "blobs")


def _open_s3(settings: Settings) -> BlobStore:
    from fhir_server.store.blob_s3 import S3BlobStore

    if not settings.s3_bucket:
        raise ValueError("FHIR_S3_BUCKET must be set when FHIR_BLOB_STORE is s3.")
    return S3BlobStore(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
    )


_STORE_OPENERS: Final[dict[str, Callable[[Settings], BlobStore]]] = {
    "local": _open_local,
    "s3": _open_s3,
}


def open_blob_store(settings: Settings) -> BlobStore:
    """The configured store. No I/O: call ``ping`` to check it, ``close`` when done."""
    return _STORE_OPENERS[settings.blob_store](settings)
