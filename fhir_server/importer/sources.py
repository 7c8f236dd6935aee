"""What the importer reads: Bundle files (``.json``, ``.json.gz``) and NDJSON files (one resource per
line), turned into batch/transaction Bundles the same code as ``POST [base]`` processes.

Files are planned first (kind, entry count and content digest, for ordering, the progress bar and
stable ids) and read again when their turn comes, so only the bundles being imported are held in
memory. Reading is bounded (``ReadLimits``): a bundle may not decompress to more than the API
accepts in one request, nor an NDJSON line to more than one resource may be, so a small
compressed file cannot expand without limit in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from fhir_server.errors import BadRequest
from fhir_server.jsonio import parse_json
from fhir_server.settings import Settings

BUNDLE_SUFFIXES: Final = (".json", ".json.gz")
NDJSON_SUFFIXES: Final = (".ndjson", ".ndjson.gz")
DEFAULT_CHUNK: Final = 500  # NDJSON resources per transaction
_READ_BLOCK: Final = 1024 * 1024

# "stable": every unconditional create gets an id derived from the source, so running the same
# import again (after a crash, say) writes the same resources (see stable_ids). "new": FHIR's POST
# semantics, server-assigned ids: a second run stores everything a second time.
ID_POLICIES: Final = ("stable", "new")


class SourceError(Exception):
    """A file that cannot be imported at all (unreadable, not JSON, not a FHIR resource, too big)."""


@dataclass(frozen=True)
class ReadLimits:
    bundle_bytes: int = 64 * 1024 * 1024  # a whole Bundle file, decompressed (FHIR_BUNDLE_MAX_BYTES)
    line_bytes: int = 16 * 1024 * 1024  # one NDJSON line, decompressed (FHIR_MAX_BODY_BYTES)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        return cls(bundle_bytes=settings.bundle_max_bytes, line_bytes=settings.max_body_bytes)


@dataclass(frozen=True)
class ImportUnit:
    """One file to import: a Bundle file, or an NDJSON file imported in chunks of transactions."""

    path: Path
    kind: str  # "batch" or "transaction"
    entries: int
    digest: str = ""  # SHA-256 of the (decompressed) content, for stable ids
    limits: ReadLimits = field(default_factory=ReadLimits)

    @property
    def priority(self) -> int:
        """Batches first: shared reference data (organizations, practitioners) that others point at."""
        return 0 if self.kind == "batch" else 1


@dataclass(frozen=True)
class SourceBundle:
    """A bundle read from a unit. ``lines``: each source entry's NDJSON line (empty for Bundle
    files); ``origins``: for each entry of ``bundle``, the source entry it comes from, when entries
    were added (stable ids add a Binary entry per inline attachment)."""

    bundle: dict[str, Any]
    lines: list[int]
    origins: list[int] | None = None
    added: frozenset[int] = frozenset()  # entries that are not in the source (see stable_ids)

    def source_index(self, index: int) -> int:
        return self.origins[index] if self.origins is not None and index < len(self.origins) else index

    def where(self, index: int) -> str:
        source = self.source_index(index)
        return f"line {self.lines[source]}" if self.lines else f"entry {source}"


def _too_big(limit: int, what: str) -> SourceError:
    return SourceError(
        f"{what} is larger than {limit:,} bytes (FHIR_BUNDLE_MAX_BYTES / FHIR_MAX_BODY_BYTES): "
        "split it into smaller files, or raise the limit"
    )


def _is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_bounded(stream: _Readable, limit: int, what: str) -> bytes:
    """All of ``stream`` if it holds at most ``limit`` bytes; reading stops one block past it."""
    blocks: list[bytes] = []
    size = 0
    while block := stream.read(_READ_BLOCK):
        size += len(block)
        if size > limit:
            raise _too_big(limit, what)
        blocks.append(block)
    return b"".join(blocks)


def _read_content(path: Path, limits: ReadLimits) -> bytes:
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as stream:
                return _read_bounded(stream, limits.bundle_bytes, "the decompressed bundle")
        if path.stat().st_size > limits.bundle_bytes:
            raise _too_big(limits.bundle_bytes, "the bundle")
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise SourceError(f"cannot read: {error}") from None


def is_ndjson(path: Path) -> bool:
    return path.name.endswith(NDJSON_SUFFIXES)


def discover(paths: list[Path]) -> list[tuple[Path, bool]]:
    """Files to import with whether each was named explicitly (directories are searched, sorted)."""
    found: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                (child, False)
                for child in sorted(path.rglob("*"))
                if child.is_file() and child.name.endswith(BUNDLE_SUFFIXES + NDJSON_SUFFIXES)
            )
        elif path.is_file():
            found.append((path, True))
        else:
            raise SourceError(f"{path}: no such file or directory")
    return found


def _as_bundle(document: Any) -> dict[str, Any] | None:
    """A batch/transaction Bundle as is; a single resource as a one-entry transaction; else None."""
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        return None
    if document["resourceType"] == "Bundle" and document.get("type") in {"batch", "transaction"}:
        return document
    return {"resourceType": "Bundle", "type": "transaction", "entry": [resource_entry(document)]}


def resource_entry(resource: dict[str, Any]) -> dict[str, Any]:
    """An entry that stores the resource: PUT with its id (idempotent), else POST."""
    resource_type = resource.get("resourceType")
    resource_id = resource.get("id")
    if isinstance(resource_id, str) and resource_id:
        return {"resource": resource, "request": {"method": "PUT", "url": f"{resource_type}/{resource_id}"}}
    return {"resource": resource, "request": {"method": "POST", "url": str(resource_type)}}


def _parse_bundle(content: bytes) -> dict[str, Any]:
    try:
        document = parse_json(content)  # FHIR JSON: exact decimals, no repeated names
    except BadRequest as error:
        raise SourceError(f"not JSON: {error.diagnostics}") from None
    bundle = _as_bundle(document)
    if bundle is None:
        raise SourceError("not a FHIR resource or batch/transaction Bundle")
    return bundle


def read_bundle(path: Path, limits: ReadLimits | None = None) -> dict[str, Any]:
    return _parse_bundle(_read_content(path, limits or ReadLimits()))


def _ndjson_lines(path: Path, limits: ReadLimits) -> Iterator[tuple[int, bytes]]:
    try:
        with gzip.open(path, "rb") if _is_gzip(path) else path.open("rb") as stream:
            number = 0
            while line := stream.readline(limits.line_bytes + 1):
                number += 1
                if len(line) > limits.line_bytes:
                    raise _too_big(limits.line_bytes, f"line {number}")
                if line.strip():
                    yield number, line
    except (OSError, EOFError, zlib.error) as error:
        raise SourceError(f"cannot read: {error}") from None


def plan_file(path: Path, explicit: bool, limits: ReadLimits | None = None) -> ImportUnit | None:
    """The unit of one file; a non-FHIR JSON file found in a directory is skipped (e.g. index.json)."""
    limits = limits or ReadLimits()
    if is_ndjson(path):
        digest = hashlib.sha256()
        count = 0
        for _, line in _ndjson_lines(path, limits):
            digest.update(line)
            count += 1
        return ImportUnit(path, "transaction", count, digest.hexdigest(), limits)
    content = _read_content(path, limits)  # unreadable or too big: always an error
    try:
        bundle = _parse_bundle(content)
    except SourceError:
        if explicit:
            raise
        return None
    entries = len(bundle.get("entry") or [])
    return ImportUnit(path, str(bundle["type"]), entries, hashlib.sha256(content).hexdigest(), limits)


def _ndjson_resource(number: int, line: bytes) -> dict[str, Any]:
    try:
        resource = parse_json(line)
    except BadRequest as error:
        raise SourceError(f"line {number}: not JSON: {error.diagnostics}") from None
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise SourceError(f"line {number}: not a FHIR resource")
    return resource


def iter_bundles(unit: ImportUnit, chunk: int = DEFAULT_CHUNK) -> Iterator[SourceBundle]:
    """The unit's bundles: the file's Bundle, or its NDJSON lines as transactions of ``chunk`` entries."""
    if not is_ndjson(unit.path):
        yield SourceBundle(read_bundle(unit.path, unit.limits), [])
        return
    entries: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in _ndjson_lines(unit.path, unit.limits):
        entries.append(resource_entry(_ndjson_resource(number, line)))
        numbers.append(number)
        if len(entries) == chunk:
            yield SourceBundle({"resourceType": "Bundle", "type": "transaction", "entry": entries}, numbers)
            entries, numbers = [], []
    if entries:
        yield SourceBundle({"resourceType": "Bundle", "type": "transaction", "entry": entries}, numbers)
