"""Routes for ``$operations`` at system, type and instance level, built from their specs."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.body import read_body
from fhir_server.api.deps import get_context, services_of
from fhir_server.api.negotiation import media_type, require_json_body
from fhir_server.api.responses import json_response
from fhir_server.api.rest import known_type
from fhir_server.context import Interaction
from fhir_server.errors import MethodNotAllowed, NotFound
from fhir_server.jsonio import parse_json_object
from fhir_server.operations.base import Level, OperationCall, OperationSpec


def _parameters(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name, "valueString": value} for name, value in pairs if not name.startswith("_")
        ],
    }


async def _inputs(
    request: Request, spec: OperationSpec, limit: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(Parameters, other JSON body) from the query string, a form, or a JSON body."""
    query = list(request.query_params.multi_items())
    if request.method == "GET" or spec.raw_body:
        return _parameters(query), None
    if media_type(request.headers.get("content-type")) == "application/x-www-form-urlencoded":
        form = parse_qsl((await read_body(request, limit=limit)).decode(), keep_blank_values=True)
        return _parameters(query + form), None
    raw = await read_body(request, limit=limit)
    if not raw.strip():
        return _parameters(query), None
    require_json_body(request)
    body = parse_json_object(raw)
    if body.get("resourceType") == "Parameters":
        return body, None
    return _parameters(query), body


def _endpoint(level: Level, specs: dict[str, OperationSpec]) -> Any:
    """One endpoint per level, dispatching on the operation name (few routes: faster matching)."""

    async def endpoint(request: Request) -> Response:
        name = request.path_params["operation"]
        spec = specs.get(name)
        if spec is None:
            raise NotFound(f"${name} is not an operation this server supports at {level.value} level")
        services = services_of(request)
        resource_type = request.path_params.get("resource_type")
        resource_id = request.path_params.get("resource_id")
        request.state.interaction = f"${spec.name}"
        request.state.resource_type = resource_type
        if resource_type is not None:
            known_type(services, resource_type)
            if spec.resource_types is not None and resource_type not in spec.resource_types:
                raise NotFound(f"${spec.name} is not defined for {resource_type}")
        if request.method == "GET" and spec.affects_state:
            raise MethodNotAllowed(f"${spec.name} changes data: use POST")
        ctx = await get_context(request)
        services.gate.require(ctx, Interaction.OPERATION, resource_type)
        parameters, body = await _inputs(request, spec, services.settings.max_body_bytes)
        call = OperationCall(
            ctx=ctx,
            request=request,
            resource_type=resource_type,
            resource_id=resource_id,
            parameters=parameters,
            body=body,
        )
        result = await spec.handler(call)
        return result if isinstance(result, Response) else json_response(request, result)

    endpoint.__name__ = f"operation_{level.value}"
    return endpoint


_PATHS = {
    Level.SYSTEM: "/${operation}",
    Level.TYPE: "/{resource_type}/${operation}",
    Level.INSTANCE: "/{resource_type}/{resource_id}/${operation}",
}


def build_operations_router(operations: list[OperationSpec]) -> APIRouter:
    router = APIRouter()
    for level in (Level.SYSTEM, Level.TYPE, Level.INSTANCE):
        specs = {spec.name: spec for spec in operations if level in spec.levels}
        router.add_api_route(
            _PATHS[level],
            _endpoint(level, specs),
            methods=["GET", "POST"],  # GET on a state-changing operation is answered 405
            include_in_schema=False,  # fhir_openapi documents each operation per resource type
        )
    return router
