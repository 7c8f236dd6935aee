"""Search routes: type, system and compartment search, by GET or POST ``_search``."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.body import read_body
from fhir_server.api.deps import ContextDep, ServicesDep
from fhir_server.api.negotiation import media_type
from fhir_server.api.responses import json_response
from fhir_server.api.rest import known_type, query_params
from fhir_server.context import RequestContext
from fhir_server.errors import UnsupportedMediaType
from fhir_server.services import Services

router = APIRouter()


async def _form_params(request: Request, services: Services) -> list[tuple[str, str]]:
    """POST ``_search``: parameters from the query string and the form-encoded body."""
    content_type = media_type(request.headers.get("content-type"))
    body = await read_body(request, limit=services.settings.max_body_bytes)
    if body.strip() and content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("POST _search takes an application/x-www-form-urlencoded body")
    return query_params(request) + parse_qsl(body.decode(), keep_blank_values=True)


async def _search(
    request: Request,
    services: Services,
    ctx: RequestContext,
    resource_type: str | None,
    params: list[tuple[str, str]],
    compartment: tuple[str, str] | None = None,
) -> Response:
    request.state.interaction = "search-type" if resource_type else "search-system"
    request.state.resource_type = resource_type
    if resource_type is not None:
        known_type(services, resource_type)
    bundle = await services.search.search(
        ctx=ctx, gate=services.gate, resource_type=resource_type, params=params, compartment=compartment
    )
    return json_response(request, bundle)


@router.get("/", summary="System search", tags=["system"])
async def system_search(request: Request, services: ServicesDep, ctx: ContextDep) -> Response:
    return await _search(request, services, ctx, None, query_params(request))


@router.post("/_search", summary="System search (POST)", tags=["system"])
async def system_search_post(request: Request, services: ServicesDep, ctx: ContextDep) -> Response:
    return await _search(request, services, ctx, None, await _form_params(request, services))


@router.get("/{resource_type}", summary="Search", tags=["type"])
async def type_search(
    resource_type: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    return await _search(request, services, ctx, resource_type, query_params(request))


@router.post("/{resource_type}/_search", summary="Search (POST)", tags=["type"])
async def type_search_post(
    resource_type: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    return await _search(request, services, ctx, resource_type, await _form_params(request, services))


@router.get(
    "/{compartment_type}/{compartment_id}/{resource_type}", summary="Compartment search", tags=["type"]
)
async def compartment_search(
    compartment_type: str,
    compartment_id: str,
    resource_type: str,
    request: Request,
    services: ServicesDep,
    ctx: ContextDep,
) -> Response:
    known_type(services, compartment_type)
    target = None if resource_type == "*" else resource_type
    return await _search(
        request, services, ctx, target, query_params(request), (compartment_type, compartment_id)
    )
