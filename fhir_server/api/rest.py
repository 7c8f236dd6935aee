"""The FHIR RESTful interactions. Each route: parse, one call, respond."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.body import read_body, read_json_object
from fhir_server.api.deps import ContextDep, ServicesDep
from fhir_server.api.negotiation import JSON_PATCH, require_json_body, response_media_type
from fhir_server.api.responses import json_response, read_response, version_headers, write_response
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, NotFound
from fhir_server.interactions import crud, history
from fhir_server.interactions.patch import patch as patch_interaction
from fhir_server.jsonio import parse_json
from fhir_server.services import Services

router = APIRouter()

_ETAG = re.compile(r'^(?:W/)?"?([0-9]+)"?$')
# Read-time parameters: anything else on a read is refused (strict), as in search.
_READ_PARAMS = {"_format", "_pretty", "_summary", "_elements"}


def known_type(services: Services, resource_type: str) -> str:
    if not services.registry.is_resource_type(resource_type):
        raise NotFound(f"'{resource_type}' is not a resource type this server knows")
    return resource_type


def if_match_version(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if header is None:
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise BadRequest(f"If-Match '{header}' is not a version ETag like W/\"3\"", ("If-Match",))
    return int(match.group(1))


def query_params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def shaped(request: Request, services: Services, resource: dict[str, Any]) -> dict[str, Any]:
    """Apply ``_summary``/``_elements`` on read."""
    summary = request.query_params.get("_summary")
    elements = request.query_params.get("_elements")
    if summary is None and elements is None:
        return resource
    shaper: Callable[..., dict[str, Any]] = request.app.state.shape_resource
    return shaper(resource, summary=summary, elements=elements.split(",") if elements else None)


def check_read_params(request: Request, lenient: bool) -> None:
    unknown = [name for name in request.query_params if name not in _READ_PARAMS]
    if unknown and not lenient:
        raise BadRequest(f"unknown parameter '{unknown[0]}' on read", (unknown[0],))


async def _resource_body(request: Request, services: Services) -> dict[str, Any]:
    require_json_body(request)
    return await read_json_object(request, limit=services.settings.max_body_bytes)


def _mark(request: Request, interaction: str, resource_type: str | None) -> None:
    """What the access log and metrics name this request by."""
    request.state.interaction = interaction
    request.state.resource_type = resource_type


# ----- system level ------------------------------------------------------------------------------


@router.get("/_history", summary="System history", tags=["system"])
async def system_history(request: Request, services: ServicesDep, ctx: ContextDep) -> Response:
    _mark(request, "history-system", None)
    bundle = await history.history(
        services=services, ctx=ctx, resource_type=None, resource_id=None, params=query_params(request)
    )
    return json_response(request, bundle)


# ----- type level --------------------------------------------------------------------------------


@router.post("/{resource_type}", summary="Create", tags=["type"])
async def create(resource_type: str, request: Request, services: ServicesDep, ctx: ContextDep) -> Response:
    _mark(request, "create", resource_type)
    known_type(services, resource_type)
    body = await _resource_body(request, services)
    result = await crud.create(
        services=services,
        ctx=ctx,
        resource_type=resource_type,
        body=body,
        if_none_exist=request.headers.get("if-none-exist"),
    )
    return write_response(request, ctx, result)


@router.put("/{resource_type}", summary="Conditional update", tags=["type"])
async def conditional_update(
    resource_type: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "update", resource_type)
    known_type(services, resource_type)
    body = await _resource_body(request, services)
    result = await crud.conditional_update(
        services=services,
        ctx=ctx,
        resource_type=resource_type,
        condition=request.url.query,
        body=body,
        if_match=if_match_version(request),
    )
    return write_response(request, ctx, result)


@router.delete("/{resource_type}", summary="Conditional delete", tags=["type"])
async def conditional_delete(
    resource_type: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "delete", resource_type)
    known_type(services, resource_type)
    await crud.conditional_delete(
        services=services, ctx=ctx, resource_type=resource_type, condition=request.url.query
    )
    return Response(status_code=204)


@router.patch("/{resource_type}", summary="Conditional patch", tags=["type"])
async def conditional_patch(
    resource_type: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    return await _patch(request, services, ctx, resource_type, None, request.url.query)


@router.get("/{resource_type}/_history", summary="Type history", tags=["type"])
async def type_history(
    resource_type: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "history-type", resource_type)
    known_type(services, resource_type)
    bundle = await history.history(
        services=services,
        ctx=ctx,
        resource_type=resource_type,
        resource_id=None,
        params=query_params(request),
    )
    return json_response(request, bundle)


# ----- instance level ----------------------------------------------------------------------------


@router.get("/{resource_type}/{resource_id}", summary="Read", tags=["instance"])
async def read(
    resource_type: str, resource_id: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "read", resource_type)
    known_type(services, resource_type)
    check_read_params(request, ctx.lenient)
    stored = await crud.read(services=services, ctx=ctx, resource_type=resource_type, resource_id=resource_id)
    assert stored.resource is not None
    return read_response(request, stored, shaped(request, services, stored.resource))


@router.put("/{resource_type}/{resource_id}", summary="Update", tags=["instance"])
async def update(
    resource_type: str, resource_id: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "update", resource_type)
    known_type(services, resource_type)
    body = await _resource_body(request, services)
    result = await crud.update(
        services=services,
        ctx=ctx,
        resource_type=resource_type,
        resource_id=resource_id,
        body=body,
        if_match=if_match_version(request),
    )
    return write_response(request, ctx, result)


@router.patch("/{resource_type}/{resource_id}", summary="Patch", tags=["instance"])
async def patch(
    resource_type: str, resource_id: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    return await _patch(request, services, ctx, resource_type, resource_id, None)


async def _patch(
    request: Request,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str | None,
    condition: str | None,
) -> Response:
    _mark(request, "patch", resource_type)
    known_type(services, resource_type)
    content_type = require_json_body(request, allow_json_patch=True)
    patch_body = parse_json(await read_body(request, limit=services.settings.max_body_bytes))
    result = await patch_interaction(
        services=services,
        ctx=ctx,
        resource_type=resource_type,
        resource_id=resource_id,
        condition=condition,
        patch_body=patch_body,
        json_patch=content_type == JSON_PATCH,
        if_match=if_match_version(request),
    )
    return write_response(request, ctx, result)


@router.delete("/{resource_type}/{resource_id}", summary="Delete", tags=["instance"])
async def delete(
    resource_type: str, resource_id: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "delete", resource_type)
    known_type(services, resource_type)
    response_media_type(request)
    tombstone = await crud.delete(
        services=services,
        ctx=ctx,
        resource_type=resource_type,
        resource_id=resource_id,
        if_match=if_match_version(request),
    )
    return Response(status_code=204, headers=version_headers(tombstone) if tombstone else None)


@router.get("/{resource_type}/{resource_id}/_history", summary="Instance history", tags=["instance"])
async def instance_history(
    resource_type: str, resource_id: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "history-instance", resource_type)
    known_type(services, resource_type)
    bundle = await history.history(
        services=services,
        ctx=ctx,
        resource_type=resource_type,
        resource_id=resource_id,
        params=query_params(request),
    )
    return json_response(request, bundle)


@router.get("/{resource_type}/{resource_id}/_history/{version}", summary="Version read", tags=["instance"])
async def vread(
    resource_type: str,
    resource_id: str,
    version: str,
    request: Request,
    services: ServicesDep,
    ctx: ContextDep,
) -> Response:
    _mark(request, "vread", resource_type)
    known_type(services, resource_type)
    check_read_params(request, ctx.lenient)
    stored = await crud.vread(
        services=services, ctx=ctx, resource_type=resource_type, resource_id=resource_id, version=version
    )
    assert stored.resource is not None
    return read_response(request, stored, shaped(request, services, stored.resource))
