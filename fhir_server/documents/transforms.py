"""Write transforms (``Services.write_transforms``) that keep bytes out of MongoDB.

* Binary: inline ``data`` (base64) is streamed into the blob store and replaced by a blob
  reference (``fhir_server.documents.blob_ref``). A Binary written without ``data`` must name a
  blob this request stored itself (raw upload, ``$upload``) or one a version of the same Binary
  already has, with the same content type; anything else is refused, so a client can neither
  point a Binary at bytes it did not send nor relabel bytes without their being checked again.
  Content equal to the current version's reuses its blob, so the update is a no-op.
* DocumentReference and Media: inline attachment bytes go to the blob store
  (``externalize_attachments``); each attachment gets ``url: Binary/<new id>``, ``size`` and
  ``hash``, and the Binary is created by the write hook inside the resource's own transaction.

Bytes stored here before a write that then fails (a conflict, a rolled-back transaction) stay in
the blob store unreferenced: harmless, invisible, and reclaimable by a sweep.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any

from fhir_server.context import RequestContext
from fhir_server.documents.blob_ref import BlobRef, binary_resource, blob_ref_of, with_blob_ref
from fhir_server.documents.request_scope import add_pending_binary, vouched_blob
from fhir_server.errors import BadRequest
from fhir_server.services import Services, WriteTransform
from fhir_server.store.attachments import ATTACHMENT_RULES, DECODE_SLICE_CHARS, externalize_attachments
from fhir_server.store.blobs import StoredBlob
from fhir_server.store.references import reference_key
from fhir_server.store.repository import new_id
from fhir_server.store.sniff import media_type_essence

JsonDict = dict[str, Any]


def _declared_type(resource: JsonDict) -> str:
    content_type = resource.get("contentType")
    if not isinstance(content_type, str) or not content_type.strip():
        raise BadRequest("A Binary must have a contentType.", ("Binary.contentType",))
    return content_type


async def _decoded(data: Any) -> AsyncIterator[bytes]:
    if not isinstance(data, str):
        raise BadRequest("Binary.data must be a base64 string.", ("Binary.data",))
    compact = "".join(data.split())  # base64Binary allows whitespace between groups
    try:
        for offset in range(0, len(compact), DECODE_SLICE_CHARS):
            yield base64.b64decode(compact[offset : offset + DECODE_SLICE_CHARS], validate=True)
    except binascii.Error:
        raise BadRequest("Binary.data is not valid base64.", ("Binary.data",)) from None


async def _store_data(services: Services, resource: JsonDict) -> StoredBlob:
    """Stream the Binary's base64 ``data`` into the blob store, validated like an upload."""
    return await services.blob_store.put(
        chunks=_decoded(resource["data"]),
        content_type=_declared_type(resource),
        max_bytes=services.settings.upload_max_bytes,
    )


async def _versions_refs(services: Services, binary_id: str) -> list[tuple[BlobRef, str]]:
    """(blob reference, content type) of every stored version of ``Binary/<binary_id>``."""
    found = []
    for version in await services.repository.versions(resource_type="Binary", resource_id=binary_id):
        ref = blob_ref_of(version.resource) if version.resource is not None else None
        if ref is not None and version.resource is not None:
            found.append((ref, str(version.resource.get("contentType", ""))))
    return found


async def _known_ref(
    services: Services, ctx: RequestContext, resource: JsonDict
) -> tuple[BlobRef, str, bool]:
    """(reference, content type, fresh) for a Binary written without data; 400 if not trusted."""
    claimed = blob_ref_of(resource)
    if claimed is None:
        raise BadRequest(
            "A Binary needs its content: send the bytes with their Content-Type, "
            "or FHIR JSON with base64 data.",
            ("Binary.data",),
        )
    fresh = vouched_blob(ctx, claimed.key)
    if fresh is not None:
        return BlobRef.of(fresh), fresh.content_type, True
    binary_id = resource.get("id")
    versions = await _versions_refs(services, binary_id) if isinstance(binary_id, str) else []
    for ref, content_type in versions:
        if ref.key != claimed.key:
            continue
        if media_type_essence(content_type) != media_type_essence(_declared_type(resource)):
            raise BadRequest(
                "To change a Binary's contentType, send its content again.", ("Binary.contentType",)
            )
        return ref, content_type, False
    raise BadRequest("The Binary's blob reference is not one this server gave it.", ("Binary.meta",))


async def _current_ref(services: Services, resource: JsonDict) -> tuple[BlobRef, str] | None:
    binary_id = resource.get("id")
    if not isinstance(binary_id, str):
        return None
    current = await services.repository.current(resource_type="Binary", resource_id=binary_id)
    if current is None or current.resource is None:
        return None
    ref = blob_ref_of(current.resource)
    return None if ref is None else (ref, str(current.resource.get("contentType", "")))


def _same_content(a: BlobRef, a_type: str, b: BlobRef, b_type: str) -> bool:
    return (
        a.sha1_base64 is not None
        and (a.sha1_base64, a.size) == (b.sha1_base64, b.size)
        and media_type_essence(a_type) == media_type_essence(b_type)
    )


def _with_content_type(resource: JsonDict, content_type: str) -> str:
    """Keep what the client wrote (parameters included) unless it names a different type."""
    declared = resource.get("contentType")
    if isinstance(declared, str) and media_type_essence(declared) == content_type:
        return declared
    return content_type


async def transform_binary(services: Services, ctx: RequestContext, resource: JsonDict) -> JsonDict:
    if "data" in resource:
        blob = await _store_data(services, resource)
        ref, content_type, fresh = BlobRef.of(blob), blob.content_type, True
    else:
        ref, content_type, fresh = await _known_ref(services, ctx, resource)
    if fresh:
        current = await _current_ref(services, resource)
        if current is not None and _same_content(current[0], current[1], ref, content_type):
            await services.blob_store.delete(ref.key)
            ref = current[0]
    result = with_blob_ref(resource, ref)
    result["contentType"] = _with_content_type(resource, content_type)
    return result


def _security_context(resource: JsonDict, base_url: str) -> str | None:
    """The subject (the patient) guards a document's bytes: ``Binary.securityContext``."""
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    return reference_key(reference, base_url) if isinstance(reference, str) else None


async def transform_attachments(services: Services, ctx: RequestContext, resource: JsonDict) -> JsonDict:
    security_context = _security_context(resource, services.settings.base_url)

    async def make_binary(blob: StoredBlob) -> str:
        binary_id = new_id()
        binary = binary_resource(
            ref=BlobRef.of(blob), content_type=blob.content_type, security_context=security_context
        )
        add_pending_binary(ctx, binary_id, binary)
        return f"Binary/{binary_id}"

    return await externalize_attachments(
        resource,
        blob_store=services.blob_store,
        max_bytes=services.settings.upload_max_bytes,
        make_binary=make_binary,
    )


def write_transforms(services: Services) -> list[WriteTransform]:
    """The transforms to append to ``services.write_transforms``."""

    async def binaries(ctx: RequestContext, resource: JsonDict) -> JsonDict:
        if resource.get("resourceType") != "Binary":
            return resource
        return await transform_binary(services, ctx, resource)

    async def attachments(ctx: RequestContext, resource: JsonDict) -> JsonDict:
        if str(resource.get("resourceType")) not in ATTACHMENT_RULES:
            return resource
        # The Binary collection the write hook writes to inside the transaction must exist before it.
        await services.repository.ensure_collections(["Binary"])
        return await transform_attachments(services, ctx, resource)

    return [binaries, attachments]
