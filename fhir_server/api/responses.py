"""Building FHIR responses: headers (ETag, Last-Modified, Location), Prefer, conditional reads."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.negotiation import response_media_type, wants_pretty
from fhir_server.context import RequestContext
from fhir_server.errors import Issue, operation_outcome
from fhir_server.jsonio import dump_json
from fhir_server.store.repository import StoredResource, WriteResult


def json_response(
    request: Request, body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        dump_json(body, pretty=wants_pretty(request)),
        status_code=status,
        media_type=response_media_type(request),
        headers=headers,
    )


def version_headers(stored: StoredResource) -> dict[str, str]:
    # astimezone: pymongo's tz-aware datetimes carry bson's own UTC, which usegmt refuses.
    last_modified = format_datetime(stored.last_updated.astimezone(UTC), usegmt=True)
    return {"ETag": stored.etag, "Last-Modified": last_modified}


def not_modified(request: Request, stored: StoredResource) -> bool:
    """If-None-Match / If-Modified-Since on read: True when the client's copy is current."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return stored.etag in tags or stored.etag.removeprefix("W/") in tags or "*" in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return stored.last_updated.replace(microsecond=0) <= since
    return False


def read_response(request: Request, stored: StoredResource, body: dict[str, Any]) -> Response:
    headers = version_headers(stored)
    if not_modified(request, stored):
        return Response(status_code=304, headers=headers)
    return json_response(request, body, headers=headers)


def prefer_return(request: Request) -> str:
    """The ``Prefer: return=`` choice: minimal, representation (default) or OperationOutcome."""
    for part in request.headers.get("prefer", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "return" and value in {"minimal", "representation", "OperationOutcome"}:
            return value
    return "representation"


def write_response(request: Request, ctx: RequestContext, result: WriteResult) -> Response:
    """201 for a new resource, 200 for a new version (or a no-op / matched conditional create)."""
    stored = result.stored
    headers = version_headers(stored)
    headers["Location"] = f"{ctx.base_url}/{stored.location_path}"
    status = 201 if result.created else 200
    choice = prefer_return(request)
    if choice == "minimal":
        return Response(status_code=status, headers=headers)
    if choice == "OperationOutcome":
        return json_response(request, write_outcome(result), status=status, headers=headers)
    return json_response(request, stored.resource, status=status, headers=headers)


def write_outcome(result: WriteResult) -> dict[str, Any]:
    stored = result.stored
    if result.created:
        message = f"created {stored.resource_type}/{stored.id} version {stored.version}"
    elif result.changed:
        message = f"updated {stored.resource_type}/{stored.id} to version {stored.version}"
    else:
        message = f"no change: {stored.resource_type}/{stored.id} stays at version {stored.version}"
    return operation_outcome([Issue("informational", message, "information")])
