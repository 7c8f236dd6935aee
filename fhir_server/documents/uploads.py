"""``$upload``: a file and a few form fields become a Binary and a DocumentReference or Media.

The file part is streamed into the blob store as it arrives (checked for the resource's purpose:
documents or images), the fields are checked (``upload_form``), and the resource is created
through the ordinary create interaction; its Binary is created by the write hook in the same
transaction. If anything fails, the stored bytes are deleted again.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Final

import anyio

from fhir_server.context import Interaction, RequestContext
from fhir_server.documents.blob_ref import BlobRef, binary_resource
from fhir_server.documents.multipart import FilePart, form_parts
from fhir_server.documents.request_scope import add_pending_binary
from fhir_server.documents.upload_form import BUILDERS, StoredFile, UploadForm, parse_form
from fhir_server.errors import BadRequest, FhirError
from fhir_server.interactions import crud
from fhir_server.services import Services
from fhir_server.store.blobs import Purpose, StoredBlob, safe_filename
from fhir_server.store.repository import WriteResult, new_id, now
from fhir_server.store.sniff import OCTET_STREAM

FILE_FIELD: Final = "file"
PURPOSES: Final[dict[str, Purpose]] = {"DocumentReference": "document", "Media": "image"}


@dataclass(frozen=True)
class ReceivedForm:
    fields: dict[str, str]
    blob: StoredBlob
    filename: str


async def _delete_quietly(services: Services, blob: StoredBlob | None) -> None:
    if blob is not None:
        with anyio.CancelScope(shield=True):
            await services.blob_store.delete(blob.key)


async def receive_form(
    *, services: Services, body: AsyncIterable[bytes], content_type: str | None, purpose: Purpose
) -> ReceivedForm:
    """Read the form, storing its one file; nothing stays stored if this raises."""
    fields: dict[str, str] = {}
    blob: StoredBlob | None = None
    filename = ""
    try:
        async for part in form_parts(body, content_type=content_type):
            if isinstance(part, FilePart):
                if part.name != FILE_FIELD or blob is not None:
                    raise BadRequest(
                        f"Send exactly one file, in the form field '{FILE_FIELD}'.", (part.name,)
                    )
                blob = await services.blob_store.put(
                    chunks=part.chunks,
                    content_type=part.content_type or OCTET_STREAM,
                    max_bytes=services.settings.upload_max_bytes,
                    purpose=purpose,
                )
                filename = part.filename
            elif part.name in fields:
                raise BadRequest(f"The form field '{part.name}' is repeated.", (part.name,))
            else:
                fields[part.name] = part.value
    except BaseException:
        await _delete_quietly(services, blob)
        raise
    if blob is None:
        raise BadRequest(f"The form field '{FILE_FIELD}' (the file) is required.", (FILE_FIELD,))
    return ReceivedForm(fields=fields, blob=blob, filename=filename)


async def _check_visible(services: Services, ctx: RequestContext, reference: str | None, field: str) -> None:
    """A referenced resource must exist and be visible to the caller (a typo is caught here)."""
    if reference is None:
        return
    resource_type, resource_id = reference.split("/", 1)
    current = await services.repository.current(resource_type=resource_type, resource_id=resource_id)
    if current is None or current.resource is None or not services.guard.can_see(ctx, current.resource):
        raise BadRequest(f"The form field '{field}' names {reference}, which is not known.", (field,))


async def _create(
    services: Services, ctx: RequestContext, resource_type: str, form: UploadForm, received: ReceivedForm
) -> WriteResult:
    await _check_visible(services, ctx, form.patient, "patient")
    await _check_visible(services, ctx, form.encounter, "encounter")
    blob = received.blob
    binary_id = new_id()
    add_pending_binary(
        ctx,
        binary_id,
        binary_resource(ref=BlobRef.of(blob), content_type=blob.content_type, security_context=form.patient),
    )
    file = StoredFile(
        content_type=blob.content_type,
        url=f"Binary/{binary_id}",
        size=blob.size,
        sha1_base64=blob.sha1_base64,
        title=form.title or safe_filename(received.filename),
    )
    resource = BUILDERS[resource_type](form, file, author=ctx.principal.fhir_user, now=now())
    return await crud.create(services=services, ctx=ctx, resource_type=resource_type, body=resource)


async def upload(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    body: AsyncIterable[bytes],
    content_type: str | None,
) -> WriteResult:
    """Create a DocumentReference or Media (and its Binary) from a multipart/form-data upload."""
    services.guard.require(ctx, Interaction.CREATE, resource_type)  # before accepting the file
    received = await receive_form(
        services=services, body=body, content_type=content_type, purpose=PURPOSES[resource_type]
    )
    try:
        form = parse_form(received.fields, resource_type=resource_type)
        return await _create(services, ctx, resource_type, form, received)
    except FhirError:
        await _delete_quietly(services, received.blob)
        raise
