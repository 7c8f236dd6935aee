"""``$expunge`` on a DocumentReference, Media or Binary: remove it and its history for good.

Administrators only (the delete permission on the type, and on Binary when Binaries go too). See
``fhir_server.documents.expunge`` for what is removed and when it is refused.
"""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction
from fhir_server.documents.expunge import expunge as expunge_resource
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "expunge",
    "url": "http://clinic.example.org/fhir/OperationDefinition/expunge",
    "name": "Expunge",
    "title": "Remove a document, an image or a Binary for good",
    "status": "active",
    "kind": "operation",
    "code": "expunge",
    "description": (
        "Removes the resource and every version of it from the server. For a DocumentReference or Media, "
        "each Binary it pointed at is removed too once nothing else needs it, and the stored bytes are "
        "deleted. A Binary alone is expunged only when no version of any resource points at it. 409 while "
        "a current resource references it. Needs the delete permission (administrators)."
    ),
    "affectsState": True,
    "resource": ["DocumentReference", "Media", "Binary"],
    "system": False,
    "type": False,
    "instance": True,
    "parameter": [
        {"name": "count", "use": "out", "min": 1, "max": "1", "type": "integer",
         "documentation": "How many versions were removed."},
        {"name": "removed", "use": "out", "min": 1, "max": "*", "type": "string",
         "documentation": "Each resource removed, as Type/id."},
        {"name": "blobsDeleted", "use": "out", "min": 1, "max": "1", "type": "integer",
         "documentation": "How many stored contents were deleted."},
    ],
}  # fmt: skip


async def expunge(call: OperationCall) -> dict[str, Any]:
    assert call.resource_type is not None and call.resource_id is not None
    report, blobs_deleted = await expunge_resource(
        services=call.services, ctx=call.ctx, resource_type=call.resource_type, resource_id=call.resource_id
    )
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "count", "valueInteger": report.versions},
            *({"name": "removed", "valueString": removed} for removed in report.removed),
            {"name": "blobsDeleted", "valueInteger": blobs_deleted},
        ],
    }


OPERATIONS = [
    OperationSpec(
        name="expunge",
        definition=DEFINITION,
        levels=frozenset({Level.INSTANCE}),
        handler=expunge,
        resource_types=("DocumentReference", "Media", "Binary"),
        affects_state=True,
        interaction=Interaction.DELETE,
        administrative=True,
    )
]
