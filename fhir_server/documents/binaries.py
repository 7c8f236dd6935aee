"""Binary writes from raw bytes (``POST /Binary``, ``PUT /Binary/{id}`` with a non-FHIR body).

The bytes are streamed into the blob store (checked and hashed on the way, never held whole),
then the Binary resource naming them is written through the ordinary create/update interaction.
If that write fails, or does not use the new bytes (a matched ``If-None-Exist``, a no-op update),
the blob is deleted again.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Final

from fhir_server.context import Interaction, RequestContext
from fhir_server.documents.blob_ref import BlobRef, binary_resource, blob_ref_of
from fhir_server.documents.request_scope import vouch
from fhir_server.errors import BadRequest, FhirError, PayloadTooLarge, UnsupportedMediaType
from fhir_server.interactions import crud, handlers
from fhir_server.interactions.call import Call, RawBody
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.pipeline import Pipeline
from fhir_server.interactions.route import BodyKind, Route
from fhir_server.interactions.target import Shape
from fhir_server.services import Services
from fhir_server.store.blobs import StoredBlob
from fhir_server.store.references import reference_key
from fhir_server.store.repository import WriteResult

BINARY: Final = "Binary"


def check_declared_length(declared: str | None, *, limit: int) -> None:
    """413 before reading a body whose Content-Length already exceeds the limit."""
    if (
        declared is not None
        and declared.strip().isascii()
        and declared.strip().isdigit()
        and int(declared) > limit
    ):
        raise PayloadTooLarge(f"The content exceeds the limit of {limit} bytes.")


def security_context_reference(value: str | None, *, base_url: str) -> str | None:
    """``X-Security-Context`` (FHIR's header for raw Binary writes) as ``Type/id``."""
    if value is None:
        return None
    key = reference_key(value.strip(), base_url)
    if key is None:
        raise BadRequest(
            "X-Security-Context must reference a resource on this server, like Patient/123.",
            ("X-Security-Context",),
        )
    return key


async def _store(services: Services, *, chunks: AsyncIterable[bytes], content_type: str | None) -> StoredBlob:
    if not content_type:
        raise UnsupportedMediaType("Send the content's media type in Content-Type.")
    return await services.blob_store.put(
        chunks=chunks, content_type=content_type, max_bytes=services.settings.upload_max_bytes
    )


async def _write_naming(
    services: Services, ctx: RequestContext, blob: StoredBlob, write: Callable[[], Awaitable[WriteResult]]
) -> WriteResult:
    """Run ``write`` with ``blob`` vouched for; drop the blob unless the stored Binary names it."""
    vouch(ctx, blob)
    try:
        result = await write()
    except FhirError:
        await services.blob_store.delete(blob.key)
        raise
    stored = result.stored.resource
    ref = blob_ref_of(stored) if stored is not None else None
    if ref is None or ref.key != blob.key:
        await services.blob_store.delete(blob.key)
    return result


async def create_from_bytes(
    *,
    services: Services,
    ctx: RequestContext,
    chunks: AsyncIterable[bytes],
    content_type: str | None,
    security_context: str | None,
    if_none_exist: str | None = None,
) -> WriteResult:
    """Create a Binary from raw bytes."""
    services.guard.require(ctx, Interaction.CREATE, BINARY)  # before accepting a possibly huge body
    blob = await _store(services, chunks=chunks, content_type=content_type)
    body = binary_resource(
        ref=BlobRef.of(blob), content_type=blob.content_type, security_context=security_context
    )
    return await _write_naming(
        services,
        ctx,
        blob,
        lambda: crud.create(
            services=services, ctx=ctx, resource_type=BINARY, body=body, if_none_exist=if_none_exist
        ),
    )


async def update_from_bytes(
    *,
    services: Services,
    ctx: RequestContext,
    resource_id: str,
    chunks: AsyncIterable[bytes],
    content_type: str | None,
    security_context: str | None,
    if_match: int | None = None,
) -> WriteResult:
    """Replace a Binary's content (or create it with this id). Without a security context, the
    current version's is kept: raw bytes cannot say it, and dropping it would widen access."""
    services.guard.require(ctx, Interaction.UPDATE, BINARY)
    if security_context is None:
        current = await services.repository.current(resource_type=BINARY, resource_id=resource_id)
        guard = current.resource.get("securityContext") if current and current.resource else None
        security_context = guard.get("reference") if isinstance(guard, dict) else None
    blob = await _store(services, chunks=chunks, content_type=content_type)
    body = {
        **binary_resource(
            ref=BlobRef.of(blob), content_type=blob.content_type, security_context=security_context
        ),
        "id": resource_id,
    }
    return await _write_naming(
        services,
        ctx,
        blob,
        lambda: crud.update(
            services=services,
            ctx=ctx,
            resource_type=BINARY,
            resource_id=resource_id,
            body=body,
            if_match=if_match,
        ),
    )


# ----- the dispatch table's Binary rows: raw content in, as well as FHIR JSON ------------------


async def create_binary(call: Call, pipeline: Pipeline) -> Outcome:
    """``POST /Binary``: FHIR JSON, or any other content type streamed as the Binary's bytes."""
    if not isinstance(call.body, RawBody):
        return await handlers.create(call, pipeline)
    check_declared_length(call.body.content_length, limit=pipeline.services.settings.upload_max_bytes)
    result = await create_from_bytes(
        services=pipeline.services,
        ctx=call.ctx,
        chunks=call.body.chunks,
        content_type=call.body.content_type,
        security_context=call.body.security_context,
        if_none_exist=handlers.if_none_exist(call),
    )
    return Outcome.written(result)


async def update_binary(call: Call, pipeline: Pipeline) -> Outcome:
    """``PUT /Binary/{id}``: FHIR JSON, or the Binary's new bytes."""
    if not isinstance(call.body, RawBody):
        return await handlers.update(call, pipeline)
    assert call.resource_id is not None
    check_declared_length(call.body.content_length, limit=pipeline.services.settings.upload_max_bytes)
    result = await update_from_bytes(
        services=pipeline.services,
        ctx=call.ctx,
        resource_id=call.resource_id,
        chunks=call.body.chunks,
        content_type=call.body.content_type,
        security_context=call.body.security_context,
        if_match=call.conditions.if_match,
    )
    return Outcome.written(result)


BINARY_ROUTES = (
    Route(
        "POST", Shape.TYPE, Interaction.CREATE, create_binary, BodyKind.RESOURCE_OR_RAW, resource_type=BINARY
    ),
    Route(
        "PUT",
        Shape.INSTANCE,
        Interaction.UPDATE,
        update_binary,
        BodyKind.RESOURCE_OR_RAW,
        resource_type=BINARY,
    ),
)
