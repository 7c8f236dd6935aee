"""The REST adapter: every ``/fhir/...`` request becomes one :class:`Call` through the pipeline.

Parse the target, match the route, authenticate, read the body the route takes, dispatch, render.
What is HTTP-only lives here: content negotiation (406/415), the body size and read-time limits,
``Prefer``, and Binary content served raw.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.binary_content import content_response, content_type_of, wants_resource, with_inline_data
from fhir_server.api.body import read_body, read_json
from fhir_server.api.deps import authenticate_request
from fhir_server.api.negotiation import media_type, require_json_body, response_media_type, wants_pretty
from fhir_server.audit.provenance import attach_client_provenance
from fhir_server.context import Principal, RequestContext
from fhir_server.documents.binaries import security_context_reference
from fhir_server.errors import BadRequest, NotFound, Unauthorized, UnsupportedMediaType
from fhir_server.interactions.call import Call, Conditions, RawBody, ReturnPreference
from fhir_server.interactions.invoke import find_operation
from fhir_server.interactions.outcome import Outcome, render
from fhir_server.interactions.patch import PATCH_MEDIA_TYPES
from fhir_server.interactions.pipeline import Pipeline
from fhir_server.interactions.route import BodyKind, Route
from fhir_server.interactions.target import NotAFhirPath, Shape, Target, parse_target
from fhir_server.jsonio import dump_json

FHIR_JSON_TYPES: Final = frozenset({"application/fhir+json", "application/json"})
FORM: Final = "application/x-www-form-urlencoded"
_ETAG_PREFIX: Final = "W/"
_RETURNS: Final[frozenset[str]] = frozenset({"minimal", "representation", "OperationOutcome"})
_BINARY_READS: Final = frozenset({Shape.INSTANCE, Shape.VERSION})
_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

router = APIRouter()


def _pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def _target(path: str) -> Target:
    try:
        return parse_target(path)
    except NotAFhirPath:
        raise NotFound(f"no FHIR endpoint at /fhir/{path}") from None


def _prefer(request: Request) -> tuple[ReturnPreference, bool, bool]:
    """``Prefer: return=...``, whether ``handling=lenient`` and whether ``respond-async`` were asked for."""
    choice: ReturnPreference = "representation"
    lenient = respond_async = False
    for part in request.headers.get("prefer", "").replace(",", ";").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "return" and value in _RETURNS:
            choice = value  # type: ignore[assignment]
        elif name == "handling" and value == "lenient":
            lenient = True
        elif name == "respond-async":
            respond_async = True
    return choice, lenient, respond_async


def _if_match(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if header is None:
        return None
    value = header.strip().removeprefix(_ETAG_PREFIX).strip('"')
    if not (value.isascii() and value.isdigit()):
        raise BadRequest(f"If-Match '{header}' is not a version ETag like W/\"3\"", ("If-Match",))
    return int(value)


def _conditions(request: Request) -> Conditions:
    return Conditions(
        if_match=_if_match(request),
        if_none_exist=request.headers.get("if-none-exist"),
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
    )


def _request_context(request: Request, principal: Principal, lenient: bool = False) -> RequestContext:
    return RequestContext(
        principal=principal,
        base_url=_pipeline(request).services.settings.base_url.rstrip("/"),
        request_id=getattr(request.state, "request_id", None) or "-",
        lenient=lenient,
        origin=request.client.host if request.client else None,
    )


async def _context(request: Request, route: Route, target: Target, lenient: bool) -> RequestContext:
    try:
        principal = Principal() if route.public else await authenticate_request(request)
    except Unauthorized as error:
        # Refused before it became a call: the pipeline's observers (the audit trail) hear of it here.
        call = Call(request.method, target, _request_context(request, Principal()), _params(request))
        await _pipeline(request).observe(call, route, None, error)
        raise
    request.state.client_id = principal.client_id
    return _request_context(request, principal, lenient)


def _params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _raw(request: Request, pipeline: Pipeline) -> RawBody:
    return RawBody(
        chunks=request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        security_context=security_context_reference(
            request.headers.get("x-security-context"), base_url=pipeline.services.settings.base_url
        ),
    )


async def _body(
    request: Request, route: Route, target: Target, pipeline: Pipeline, params: list[tuple[str, str]]
) -> Any:
    """What the route takes off the request: parsed JSON, a raw body, or form parameters (added
    to ``params``)."""
    settings = pipeline.services.settings
    content_type = media_type(request.headers.get("content-type"))
    limit = settings.max_body_bytes
    seconds = settings.body_read_timeout
    kind = route.body
    if kind is BodyKind.NONE or request.method in {"GET", "HEAD"}:
        return None
    if kind is BodyKind.RESOURCE_OR_RAW and content_type not in FHIR_JSON_TYPES:
        return _raw(request, pipeline)
    if kind is BodyKind.OPERATION:
        if find_operation(pipeline.operations, target).raw_body:
            return _raw(request, pipeline)
        raw = await read_body(request, limit=limit, seconds=seconds)
        if content_type == FORM:
            params.extend(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
            return None
        if not raw.strip():
            return None
        require_json_body(request)
        return read_json(raw)
    if kind is BodyKind.FORM:
        raw = await read_body(request, limit=limit, seconds=seconds)
        if raw.strip() and content_type != FORM:
            raise UnsupportedMediaType(f"POST _search takes an {FORM} body")
        params.extend(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
        return None
    if kind is BodyKind.PATCH:
        if content_type not in PATCH_MEDIA_TYPES:
            require_json_body(request)
        return read_json(await read_body(request, limit=limit, seconds=seconds))
    require_json_body(request)
    if kind is BodyKind.BUNDLE:
        limit = settings.bundle_max_bytes
    body = read_json(await read_body(request, limit=limit, seconds=seconds))
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _mark(request: Request, route: Route, target: Target) -> None:
    """What the access log and metrics name this request by: the interaction, the type, and the
    route template (``/fhir/{type}/{id}``), rebuilt by the observability labels from these
    path parameters (never the raw path, whose ids a client chose)."""
    request.state.interaction = f"${target.operation}" if target.operation else route.interaction.value
    request.state.resource_type = target.resource_type
    named = {
        "type": target.resource_type,
        "id": target.resource_id,
        "vid": target.version,
        "op": target.operation,
        "compartment": target.compartment_of,
    }
    request.scope["path_params"] = {name: value for name, value in named.items() if value is not None}


def _respond(request: Request, call: Call, outcome: Outcome, media: str | None) -> Response:
    rendered = render(call, outcome)
    headers = rendered.http_headers(call.ctx.base_url)
    if rendered.body is None or rendered.status == 304 or call.method == "HEAD":
        if rendered.body is not None and call.method == "HEAD":
            headers["Content-Type"] = media or "application/fhir+json"
        return Response(status_code=rendered.status, headers=headers)
    return Response(
        dump_json(rendered.body, pretty=wants_pretty(request)),
        status_code=rendered.status,
        media_type=media,
        headers=headers,
    )


@router.api_route(
    "/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,  # fhir_openapi documents every interaction per resource type
)
async def fhir(path: str, request: Request) -> Response:
    pipeline = _pipeline(request)
    target = _target(path)
    route = pipeline.route(request.method, target)
    _mark(request, route, target)
    prefer, lenient, respond_async = _prefer(request)
    ctx = await _context(request, route, target, lenient)
    binary_read = target.resource_type == "Binary" and route.method == "GET" and target.shape in _BINARY_READS
    media = None if binary_read else response_media_type(request)  # 406 before any work is done
    params = _params(request)
    body = await _body(request, route, target, pipeline, params)
    if route.method in _WRITES:
        attach_client_provenance(ctx, request.headers.get("x-provenance"), body)
    call = Call(
        method=request.method,
        target=target,
        ctx=ctx,
        params=params,
        body=body,
        content_type=media_type(request.headers.get("content-type")) or None,
        conditions=_conditions(request),
        prefer_return=prefer,
        prefer_async=respond_async,
    )
    outcome = await pipeline.dispatch(call, route)
    if binary_read and outcome.stored is not None and outcome.body is not None:
        if not wants_resource(request, content_type_of(outcome.stored)):
            return await content_response(request, call, pipeline.services, outcome.stored)
        body = await with_inline_data(pipeline.services, outcome.stored, outcome.body)
        return _respond(request, call, replace(outcome, body=body), response_media_type(request))
    return _respond(request, call, outcome, media)


async def fhir_base(request: Request) -> Response:
    """``/fhir`` itself (no trailing slash): the system level, as ``/fhir/``."""
    return await fhir("", request)
