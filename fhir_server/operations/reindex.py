"""``$reindex`` (system and type level, POST): rebuild search indexes of stored resources.

Run it after a custom SearchParameter was added, so existing resources become searchable by it
(new and updated resources are indexed on write already).
"""

from __future__ import annotations

from typing import Any

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.context import Interaction
from fhir_server.errors import BadRequest
from fhir_server.operations.base import Level, OperationCall, OperationSpec, parameter_values
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.reindex import reindex as reindex_resources
from fhir_server.services import Services
from fhir_server.store.documents import resource_collection_name

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
        "SearchParameter was added. Needs update permission on each type."
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


async def _stored_types(services: Services) -> list[str]:
    prefix = resource_collection_name("")
    names = await services.repository.db.list_collection_names()
    return sorted(n[len(prefix) :] for n in names if n.startswith(prefix))


async def reindex(call: OperationCall) -> dict[str, Any]:
    services: Services = call.request.app.state.services
    registry = call.request.app.state.registry
    if not isinstance(registry, ConformanceRegistry):
        raise TypeError("app.state.registry must be the ConformanceRegistry")
    if call.resource_type is not None:
        types = [call.resource_type]
    else:
        requested = [
            p.get("valueCode") or p.get("valueString") for p in parameter_values(call.parameters, "type")
        ]
        types = [t for t in requested if t] or await _stored_types(services)
    unknown = [t for t in types if not registry.is_resource_type(t)]
    if unknown:
        raise BadRequest(f"$reindex: unknown resource type(s) {', '.join(unknown)}", ("type",))
    batch = parameter_values(call.parameters, "batchSize")
    batch_size = int(batch[0].get("valueInteger", 500)) if batch else 500
    if not 1 <= batch_size <= MAX_BATCH:
        raise BadRequest(f"$reindex: batchSize must be between 1 and {MAX_BATCH}", ("batchSize",))
    for resource_type in types:
        services.gate.require(call.ctx, Interaction.UPDATE, resource_type)
    counts = await reindex_resources(
        db=services.repository.db,
        registry=registry,
        indexer=SearchIndexer(registry, base_url=services.settings.base_url),
        resource_types=types,
        batch_size=batch_size,
    )
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "reindexed", "valueString": f"{t}={n}"} for t, n in counts.items()],
    }


OPERATIONS = [
    OperationSpec(
        name="reindex",
        definition=DEFINITION,
        levels=frozenset({Level.SYSTEM, Level.TYPE}),
        handler=reindex,
        affects_state=True,
    )
]
