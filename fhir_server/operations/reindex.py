"""``$reindex`` (system and type level, POST): rebuild search indexes of stored resources.

Run it after a custom SearchParameter was added, so existing resources become searchable by it
(new and updated resources are indexed on write already).
"""

from __future__ import annotations

from typing import Any

from fhir_server.errors import BadRequest
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.parameters import parameter_values

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "reindex",
    "url": "http://clinic.example.org/fhir/OperationDefinition/reindex",
    "name": "Reindex",
    "title": "Rebuild the search index of stored resources",
    "status": "active",
    "kind": "operation",
    "code": "reindex",
    "description": (
        "Re-extracts the search index entries and compartment memberships of every current resource "
        "(of the type, or of the types given, or of all types at system level), e.g. after a "
        "SearchParameter was added. Administrators only (user/*.cruds or system/*.cruds)."
    ),
    "affectsState": True,
    "system": True,
    "type": True,
    "instance": False,
    "parameter": [
        {"name": "type", "use": "in", "min": 0, "max": "*", "type": "code",
         "documentation": "System level: the resource types to reindex (default: all stored types)."},
        {"name": "batchSize", "use": "in", "min": 0, "max": "1", "type": "integer",
         "documentation": "Documents rewritten per batch (default 500)."},
        {"name": "reindexed", "use": "out", "min": 0, "max": "*", "type": "string",
         "documentation": "Type=count for each type reindexed."},
    ],
}  # fmt: skip

MAX_BATCH = 5000


async def reindex(call: OperationCall) -> dict[str, Any]:
    services = call.services
    if call.resource_type is not None:
        types = [call.resource_type]
    else:
        requested = [
            p.get("valueCode") or p.get("valueString") for p in parameter_values(call.parameters, "type")
        ]
        types = [t for t in requested if t] or await services.repository.known_types()
    unknown = [t for t in types if not services.registry.is_resource_type(t)]
    if unknown:
        raise BadRequest(f"$reindex: unknown resource type(s) {', '.join(unknown)}", ("type",))
    batch = parameter_values(call.parameters, "batchSize")
    batch_size = _integer(batch[0], "batchSize") if batch else 500
    if not 1 <= batch_size <= MAX_BATCH:
        raise BadRequest(f"$reindex: batchSize must be between 1 and {MAX_BATCH}", ("batchSize",))
    counts = {
        resource_type: await services.repository.reindex(resource_type=resource_type, batch_size=batch_size)
        for resource_type in types
    }
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "reindexed", "valueString": f"{t}={n}"} for t, n in counts.items()],
    }


def _integer(parameter: dict[str, Any], name: str) -> int:
    value = parameter.get("valueInteger", parameter.get("valueString"))
    text = str(value)
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise BadRequest(f"$reindex: {name} must be a positive integer", (name,))
    return int(text)


OPERATIONS = [
    OperationSpec(
        name="reindex",
        definition=DEFINITION,
        levels=frozenset({Level.SYSTEM, Level.TYPE}),
        handler=reindex,
        affects_state=True,
        administrative=True,
    )
]
