"""``DocumentReference/$upload`` and ``Media/$upload``: a multipart/form-data upload for clinic staff.

One request creates the Binary holding the file and the DocumentReference or Media describing it,
in one transaction. The fields are listed in ``fhir_server.documents.upload_form``.
"""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction
from fhir_server.documents.uploads import upload as upload_document
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.store.repository import WriteResult

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "upload",
    "url": "http://clinic.example.org/fhir/OperationDefinition/upload",
    "name": "Upload",
    "title": "Upload a document or an image",
    "status": "active",
    "kind": "operation",
    "code": "upload",
    "description": (
        "POST multipart/form-data with the file in the field 'file' and the fields 'patient' (required), "
        "'category' (DocumentReference: a clinic document category code, required), 'type' "
        "(DocumentReference), 'modality' and 'bodySite' (Media), 'encounter', 'date', 'description' and "
        "'title'. The file is checked against its declared type (executables, scripts and archives are "
        "refused: 415; a mismatch: 400; too large: 413). Creates a Binary with the bytes and a "
        "DocumentReference or Media conforming to the clinic profile, pointing at it (url Binary/<id>, "
        "size, SHA-1 hash), in one transaction; answers 201 with the created resource."
    ),
    "affectsState": True,
    "resource": ["DocumentReference", "Media"],
    "system": False,
    "type": True,
    "instance": False,
    "parameter": [
        {"name": "file", "use": "in", "min": 1, "max": "1", "type": "Attachment",
         "documentation": "The file (a multipart part with a filename)."},
        {"name": "patient", "use": "in", "min": 1, "max": "1", "type": "string",
         "documentation": "Patient/<id> or <id>."},
        {"name": "category", "use": "in", "min": 0, "max": "1", "type": "code",
         "documentation": "DocumentReference only (required there): clinic-document-category code."},
        {"name": "type", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "DocumentReference.type as system|code or text."},
        {"name": "modality", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Media.modality as system|code or text."},
        {"name": "bodySite", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Media.bodySite as system|code or text."},
        {"name": "encounter", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Encounter/<id> or <id>."},
        {"name": "date", "use": "in", "min": 0, "max": "1", "type": "dateTime",
         "documentation": "When the document was written or the image taken."},
        {"name": "description", "use": "in", "min": 0, "max": "1", "type": "string"},
        {"name": "title", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Default: the file's name."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Resource",
         "documentation": "The created DocumentReference or Media."},
    ],
}  # fmt: skip


async def upload(call: OperationCall) -> WriteResult:
    assert call.resource_type is not None and call.raw is not None
    return await upload_document(
        services=call.services,
        ctx=call.ctx,
        resource_type=call.resource_type,
        body=call.raw.chunks,
        content_type=call.raw.content_type,
    )


OPERATIONS = [
    OperationSpec(
        name="upload",
        definition=DEFINITION,
        levels=frozenset({Level.TYPE}),
        handler=upload,
        resource_types=("DocumentReference", "Media"),
        affects_state=True,
        raw_body=True,
        interaction=Interaction.CREATE,
    )
]
