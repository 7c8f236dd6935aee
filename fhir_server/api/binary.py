"""Binary routes: raw content in and out (FHIR http.html#binary). Included before the generic routes.

* ``POST /Binary``, ``PUT /Binary/{id}``: a FHIR JSON body (``application/fhir+json`` or
  ``application/json``) is a Binary resource (its base64 ``data`` goes to the blob store); any other
  Content-Type is the content itself, streamed to the blob store. ``X-Security-Context`` sets
  ``Binary.securityContext`` for raw writes.
* ``GET /Binary/{id}`` and ``GET /Binary/{id}/_history/{vid}``: the raw bytes or the FHIR JSON
  form, by content negotiation (``fhir_server.documents.serving``).

Ids are matched by a convertor allowing only FHIR id characters, so ``/Binary/_history`` and
``/Binary/$op`` fall through to the generic routes.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.body import read_json_object
from fhir_server.api.deps import ContextDep, ServicesDep
from fhir_server.api.negotiation import media_type
from fhir_server.api.responses import write_response
from fhir_server.api.rest import check_read_params, if_match_version
from fhir_server.documents import binaries
from fhir_server.documents.serving import binary_response
from fhir_server.interactions import crud
from fhir_server.services import Services

BINARY: Final = "Binary"
FHIR_BODY_TYPES: Final = frozenset({"application/fhir+json", "application/json"})


class FhirIdConvertor(Convertor[str]):
    regex = r"[A-Za-z0-9\-\.]{1,64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


if "fhir_id" not in CONVERTOR_TYPES:  # the route paths below need it when they are compiled
    register_url_convertor("fhir_id", FhirIdConvertor())

router = APIRouter()


def _mark(request: Request, interaction: str) -> None:
    """What the access log and metrics name this request by."""
    request.state.interaction = interaction
    request.state.resource_type = BINARY


def _is_fhir_body(request: Request) -> bool:
    return media_type(request.headers.get("content-type")) in FHIR_BODY_TYPES


def _security_context(request: Request, services: Services) -> str | None:
    return binaries.security_context_reference(
        request.headers.get("x-security-context"), base_url=services.settings.base_url
    )


@router.post("/Binary", summary="Create a Binary (raw content or FHIR JSON)", tags=["Binary"])
async def create_binary(request: Request, services: ServicesDep, ctx: ContextDep) -> Response:
    _mark(request, "create")
    if _is_fhir_body(request):
        body = await read_json_object(request, limit=services.settings.max_body_bytes)
        result = await crud.create(
            services=services,
            ctx=ctx,
            resource_type=BINARY,
            body=body,
            if_none_exist=request.headers.get("if-none-exist"),
        )
    else:
        binaries.check_declared_length(
            request.headers.get("content-length"), limit=services.settings.upload_max_bytes
        )
        result = await binaries.create_from_bytes(
            services=services,
            ctx=ctx,
            chunks=request.stream(),
            content_type=request.headers.get("content-type"),
            security_context=_security_context(request, services),
            if_none_exist=request.headers.get("if-none-exist"),
        )
    return write_response(request, ctx, result)


@router.put("/Binary/{resource_id:fhir_id}", summary="Replace a Binary's content", tags=["Binary"])
async def update_binary(
    resource_id: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "update")
    if _is_fhir_body(request):
        body = await read_json_object(request, limit=services.settings.max_body_bytes)
        result = await crud.update(
            services=services,
            ctx=ctx,
            resource_type=BINARY,
            resource_id=resource_id,
            body=body,
            if_match=if_match_version(request),
        )
    else:
        binaries.check_declared_length(
            request.headers.get("content-length"), limit=services.settings.upload_max_bytes
        )
        result = await binaries.update_from_bytes(
            services=services,
            ctx=ctx,
            resource_id=resource_id,
            chunks=request.stream(),
            content_type=request.headers.get("content-type"),
            security_context=_security_context(request, services),
            if_match=if_match_version(request),
        )
    return write_response(request, ctx, result)


@router.get(
    "/Binary/{resource_id:fhir_id}", summary="Read a Binary (raw content or FHIR JSON)", tags=["Binary"]
)
async def read_binary(resource_id: str, request: Request, services: ServicesDep, ctx: ContextDep) -> Response:
    _mark(request, "read")
    check_read_params(request, ctx.lenient)
    stored = await crud.read(services=services, ctx=ctx, resource_type=BINARY, resource_id=resource_id)
    return await binary_response(request, services, stored)


@router.get(
    "/Binary/{resource_id:fhir_id}/_history/{version}",
    summary="Read a Binary version (raw content or FHIR JSON)",
    tags=["Binary"],
)
async def vread_binary(
    resource_id: str, version: str, request: Request, services: ServicesDep, ctx: ContextDep
) -> Response:
    _mark(request, "vread")
    check_read_params(request, ctx.lenient)
    stored = await crud.vread(
        services=services, ctx=ctx, resource_type=BINARY, resource_id=resource_id, version=version
    )
    return await binary_response(request, services, stored)
