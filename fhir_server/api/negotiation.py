"""Media types: what we accept (415) and what we answer with (406), ``_format`` and ``_pretty``."""

from __future__ import annotations

from starlette.requests import Request

from fhir_server.errors import NotAcceptable, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"

# _format short names and the media types they stand for.
_FORMAT_ALIASES = {"json": FHIR_JSON, "application/json": "application/json", FHIR_JSON: FHIR_JSON}
_JSON_TYPES = {FHIR_JSON, "application/json", "application/*", "*/*"}
_XML_TYPES = {"xml", "text/xml", "application/xml", "application/fhir+xml", "html", "text/html", "ttl"}


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type header, lowercased, parameters dropped."""
    return (header or "").split(";", 1)[0].strip().lower()


def response_media_type(request: Request) -> str:
    """application/fhir+json or application/json, per ``_format`` then ``Accept``; 406 otherwise."""
    requested = request.query_params.get("_format")
    if requested is not None:
        chosen = _FORMAT_ALIASES.get(requested.strip().lower().replace(" ", "+"))
        if chosen is None:
            raise NotAcceptable(f"_format '{requested}' is not served; use json", ("_format",))
        return chosen
    accept = request.headers.get("accept")
    if not accept:
        return FHIR_JSON
    offered = [media_type(part) for part in accept.split(",")]
    for candidate in offered:
        if candidate in _JSON_TYPES:
            return "application/json" if candidate == "application/json" else FHIR_JSON
    if any(candidate.endswith("+json") or candidate == "application/fhir+json" for candidate in offered):
        return FHIR_JSON
    raise NotAcceptable("this server answers with application/fhir+json or application/json only")


def wants_pretty(request: Request) -> bool:
    return request.query_params.get("_pretty", "false").lower() == "true"


def require_json_body(request: Request, *, allow_json_patch: bool = False) -> str:
    """Check the request's Content-Type for a FHIR JSON body (415 otherwise) and return it."""
    content_type = media_type(request.headers.get("content-type"))
    allowed = {FHIR_JSON, "application/json"} | ({JSON_PATCH} if allow_json_patch else set())
    if content_type in allowed:
        return content_type
    if not content_type:
        raise UnsupportedMediaType("a Content-Type header is required (application/fhir+json)")
    if content_type in _XML_TYPES or content_type.endswith("+xml"):
        raise UnsupportedMediaType("XML is not supported; send application/fhir+json")
    raise UnsupportedMediaType(f"Content-Type '{content_type}' is not supported; send application/fhir+json")
