"""What the importer reads: Bundle files (``.json``, ``.json.gz``) and NDJSON files (one resource per
line), turned into batch/transaction Bundles the same code as ``POST [base]`` processes.

Files are planned first (kind and entry count, for ordering and the progress bar) and read again
when their turn comes, so only the bundles being imported are held in memory.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir_server.errors import BadRequest
from fhir_server.jsonio import parse_json
from fhir_server.resources import ID_PATTERN

BUNDLE_SUFFIXES = (".json", ".json.gz")
NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz")
DEFAULT_CHUNK = 500  # NDJSON resources per transaction

# Which bundles keep their resources' ids (an unconditional POST of a resource with an id becomes a
# PUT of that id). "auto": batch bundles only, as they carry shared reference data that importing
# again must not duplicate; transactions keep FHIR's POST semantics (new ids, and no extra read).
ID_POLICIES = ("auto", "keep", "new")


class SourceError(Exception):
    """A file that cannot be imported at all (unreadable, not JSON, not a FHIR resource)."""


@dataclass(frozen=True)
class ImportUnit:
    """One file to import: a Bundle file, or an NDJSON file imported in chunks of transactions."""

    path: Path
    kind: str  # "batch" or "transaction"
    entries: int

    @property
    def priority(self) -> int:
        """Batches first: shared reference data (organizations, practitioners) that others point at."""
        return 0 if self.kind == "batch" else 1


@dataclass(frozen=True)
class SourceBundle:
    """A bundle read from a unit; ``lines`` gives each entry's NDJSON line number (empty for Bundle files)."""

    bundle: dict[str, Any]
    lines: list[int]

    def where(self, index: int) -> str:
        return f"line {self.lines[index]}" if self.lines else f"entry {index}"


def _open_text(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError, gzip.BadGzipFile) as error:
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


def keeps_ids(policy: str, bundle: dict[str, Any]) -> bool:
    return policy == "keep" or (policy == "auto" and bundle.get("type") == "batch")


def keep_ids(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle with each unconditional POST of a resource carrying a valid id turned into a PUT
    of that id: the source's ids are kept and importing the same file again changes nothing."""
    for entry in bundle.get("entry") or []:
        request, resource = entry.get("request"), entry.get("resource")
        if not isinstance(request, dict) or not isinstance(resource, dict):
            continue
        resource_id = resource.get("id")
        if (
            request.get("method") == "POST"
            and "ifNoneExist" not in request
            and isinstance(resource_id, str)
            and ID_PATTERN.match(resource_id)
            and request.get("url") == resource.get("resourceType")
        ):
            entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource_id}"}
    return bundle


def read_bundle(path: Path) -> dict[str, Any]:
    try:
        document = parse_json(_open_text(path))  # FHIR JSON: exact decimals, no repeated names
    except BadRequest as error:
        raise SourceError(f"not JSON: {error.diagnostics}") from None
    bundle = _as_bundle(document)
    if bundle is None:
        raise SourceError("not a FHIR resource or batch/transaction Bundle")
    return bundle


def _ndjson_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb") as stream:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    yield number, line
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise SourceError(f"cannot read: {error}") from None


def plan_file(path: Path, explicit: bool) -> ImportUnit | None:
    """The unit of one file; a non-FHIR JSON file found in a directory is skipped (e.g. index.json)."""
    if is_ndjson(path):
        return ImportUnit(path, "transaction", sum(1 for _ in _ndjson_lines(path)))
    try:
        bundle = read_bundle(path)
    except SourceError:
        if explicit:
            raise
        return None
    return ImportUnit(path, str(bundle["type"]), len(bundle.get("entry") or []))


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
        yield SourceBundle(read_bundle(unit.path), [])
        return
    entries: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in _ndjson_lines(unit.path):
        entries.append(resource_entry(_ndjson_resource(number, line)))
        numbers.append(number)
        if len(entries) == chunk:
            yield SourceBundle({"resourceType": "Bundle", "type": "transaction", "entry": entries}, numbers)
            entries, numbers = [], []
    if entries:
        yield SourceBundle({"resourceType": "Bundle", "type": "transaction", "entry": entries}, numbers)
