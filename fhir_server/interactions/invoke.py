"""Invoking a ``$operation``: find it by name and level, check what it needs, hand it its input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from fhir_server.errors import BadRequest, MethodNotAllowed, NotFound
from fhir_server.interactions.call import Call, RawBody
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec, as_outcome
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.target import Shape, Target
from fhir_server.parameters import from_pairs

if TYPE_CHECKING:
    from fhir_server.interactions.pipeline import Pipeline

LEVELS: Final[dict[Shape, Level]] = {
    Shape.SYSTEM_OPERATION: Level.SYSTEM,
    Shape.TYPE_OPERATION: Level.TYPE,
    Shape.INSTANCE_OPERATION: Level.INSTANCE,
}


def find_operation(operations: Mapping[str, OperationSpec], target: Target) -> OperationSpec:
    """The operation the target names, at its level and for its type (404 otherwise)."""
    name = target.operation
    level = LEVELS[target.shape]
    spec = operations.get(name or "")
    if spec is None or level not in spec.levels:
        raise NotFound(f"${name} is not an operation this server supports at {level.value} level")
    types = spec.resource_types
    if target.resource_type is not None and types is not None and target.resource_type not in types:
        raise NotFound(f"${spec.name} is not defined for {target.resource_type}")
    return spec


def _inputs(call: Call, spec: OperationSpec) -> tuple[dict[str, Any], dict[str, Any] | None, RawBody | None]:
    """(Parameters, another JSON body, the raw body) of the call."""
    if spec.raw_body:
        if not isinstance(call.body, RawBody):
            raise BadRequest(f"${spec.name} takes its input as the raw request body, not in a bundle")
        return from_pairs(call.params), None, call.body
    body = call.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return body, None, None
    if body is not None and not isinstance(body, dict):
        raise BadRequest(f"the input of ${spec.name} must be a Parameters resource or a resource")
    return from_pairs(call.params), body, None


async def invoke(call: Call, pipeline: Pipeline) -> Outcome:
    spec = find_operation(pipeline.operations, call.target)
    if call.method == "GET" and spec.affects_state:
        raise MethodNotAllowed(f"${spec.name} changes data: use POST", headers={"Allow": "POST"})
    guard = pipeline.services.guard
    if spec.administrative:
        guard.require_administrator(call.ctx, f"${spec.name}")
    guard.require(call.ctx, spec.interaction, call.resource_type)
    parameters, body, raw = _inputs(call, spec)
    result = await spec.handler(
        OperationCall(call=call, services=pipeline.services, parameters=parameters, body=body, raw=raw)
    )
    return as_outcome(result)
