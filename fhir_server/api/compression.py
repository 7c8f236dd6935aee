"""gzip for answers over 1 kB when the client sends ``Accept-Encoding: gzip``.

Starlette's ``GZipMiddleware`` does the work (streamed bodies too, large ones off the event loop)
and already leaves alone 206 answers, answers that carry a ``Content-Encoding`` and compressed
media (images, audio, video, zip ...). On top of that nothing is compressed that:

- advertises ``Accept-Ranges: bytes``: Binary content downloads, whose ranges, ``Content-Length``
  and ETag describe the stored bytes (a client resuming a download must get those bytes);
- says ``Cache-Control: no-transform``;
- is one of the compressed media types below that Starlette does not know (PDF, DICOM ...).

The level is 1: the FHIR JSON of a search page shrinks about as well as at 6 or 9 (it is
repetitive) at a fraction of the CPU; see ``benchmarks/gzip_bench.py``.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import Headers
from starlette.middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipMiddleware,
    GZipResponder,
    IdentityResponder,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MINIMUM_SIZE: Final = 1024
COMPRESS_LEVEL: Final = 1
EXCLUDED_CONTENT_TYPES: Final = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/pdf",
    "application/dicom",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/zstd",
    "application/x-bzip2",
    "application/x-xz",
    "application/octet-stream",  # unknown bytes: often already compressed, never worth the guess
)


def keeps_identity(headers: Headers) -> bool:
    """Whether an answer must go out as it is, whatever the client accepts."""
    if headers.get("accept-ranges", "none").strip().lower() != "none":
        return True
    cache_control = headers.get("cache-control", "").lower()
    return "no-transform" in {part.strip() for part in cache_control.split(",")}


class _RangeSafe(IdentityResponder):
    """Starlette's responder, also passing through what :func:`keeps_identity` names."""

    async def send_with_compression(self, message: Message) -> None:
        await super().send_with_compression(message)
        if message["type"] != "http.response.start":
            return
        passed = self.content_encoding_set or self.partial_response or self.content_type_is_excluded
        if not passed and keeps_identity(Headers(raw=message["headers"])):
            # Starlette held the start back to decide; from here on it passes every body through.
            self.content_type_is_excluded = True
            await self.send(self.initial_message)


class _RangeSafeGZip(_RangeSafe, GZipResponder):
    pass


class CompressionMiddleware(GZipMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app,
            minimum_size=MINIMUM_SIZE,
            compresslevel=COMPRESS_LEVEL,
            exclude_content_types=EXCLUDED_CONTENT_TYPES,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepted = Headers(scope=scope).get("accept-encoding", "")
        if "gzip" in accepted.lower():
            responder: IdentityResponder = _RangeSafeGZip(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
        else:
            responder = _RangeSafe(
                self.app, self.minimum_size, exclude_content_types=self.exclude_content_types
            )
        await responder(scope, receive, send)
