"""One NDJSON file of an export: a slice of one type streamed from the database into the blob store.

Resources flow from the cursor through the gate and ``_elements`` into chunks of about 256 KiB that
the blob store writes as they come, so memory stays flat however large the file. The file is only
stored when at least one resource passed the gate (a blob store refuses empty content).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import orjson

from fhir_server.context import RequestContext
from fhir_server.errors import Issue, operation_outcome
from fhir_server.jsonio import dump_json
from fhir_server.search.export import Selection
from fhir_server.search.shaping import shape_resource
from fhir_server.services import Services
from fhir_server.store.blobs import StoredBlob

CHUNK_BYTES: Final = 256 * 1024
# NDJSON is sniffed and checked as JSON text (UTF-8, no NUL); it is served as application/fhir+ndjson.
STORED_AS: Final = "application/json"
MAX_FILE_BYTES: Final = 1 << 40  # bounded by the resource count per file, not by bytes


@dataclass
class Part:
    """What writing one file did: resources read, resources written, the last id read, the blob."""

    read: int = 0
    written: int = 0
    last_id: str | None = None
    blob: StoredBlob | None = None


async def write_part(
    services: Services,
    *,
    ctx: RequestContext,
    selection: Selection,
    elements: list[str] | None,
    after: str | None,
    limit: int,
) -> Part:
    """Export up to ``limit`` resources of the selection after ``after`` into one stored file."""
    part = Part(last_id=after)
    source = services.search.export_slice(
        ctx=ctx, gate=services.gate, selection=selection, after=after, limit=limit
    )

    async def lines() -> AsyncIterator[bytes]:
        buffer = bytearray()
        async for resource_id, resource in source:
            part.read += 1
            part.last_id = resource_id
            if not services.guard.can_see(ctx, resource):
                continue
            if elements:
                resource = shape_resource(
                    resource, summary=None, elements=elements, registry=services.registry
                )
            buffer += dump_json(resource)
            buffer += b"\n"
            part.written += 1
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)

    chunks = lines()
    first = await anext(chunks, None)
    if first is not None:
        part.blob = await _store(services, first, chunks)
    return part


async def write_outcomes(services: Services, issues: list[str]) -> StoredBlob:
    """An error file: one OperationOutcome per line."""

    async def lines() -> AsyncIterator[bytes]:
        for issue in issues:
            outcome = operation_outcome([Issue("processing", issue, "warning")])
            yield orjson.dumps(outcome) + b"\n"

    chunks = lines()
    first = await anext(chunks)
    return await _store(services, first, chunks)


async def _store(services: Services, first: bytes, rest: AsyncIterator[bytes]) -> StoredBlob:
    async def all_chunks() -> AsyncIterator[bytes]:
        yield first
        async for chunk in rest:
            yield chunk

    return await services.blob_store.put(
        chunks=all_chunks(), content_type=STORED_AS, max_bytes=MAX_FILE_BYTES
    )
