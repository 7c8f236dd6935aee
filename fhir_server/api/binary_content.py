"""Answering a read of a Binary: its raw bytes, or its FHIR JSON form.

Content negotiation (FHIR http.html#binary): the raw bytes, with their own Content-Type, unless
the client asks for a FHIR format (``_format``, or an Accept naming a FHIR JSON type and not the
Binary's own type). Raw bytes are streamed from the blob store with ``Accept-Ranges``, single
``Range`` requests (206, 416), ``If-Range``, conditional reads (304) and
``X-Content-Type-Options: nosniff``; with ``s3_presigned_redirect`` the client is sent to a
short-lived presigned S3 URL instead (307).

The FHIR JSON form carries ``data`` (base64) only up to ``binary_inline_max_bytes``: a larger
Binary's JSON leaves ``data`` out, and its blob extension says how big it is (fetch the raw form).
"""

from __future__ import annotations

import base64
from email.utils import parsedate_to_datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from fhir_server.api.negotiation import media_type
from fhir_server.documents.blob_ref import blob_ref_of
from fhir_server.interactions.call import Call
from fhir_server.interactions.outcome import Rendered, not_modified
from fhir_server.services import Services
from fhir_server.store.blobs import parse_range_header
from fhir_server.store.repository import StoredResource
from fhir_server.store.sniff import media_type_essence

PRESIGNED_URL_SECONDS: Final = 300
# Media types that ask for the Binary resource rather than its content.
FHIR_MEDIA_TYPES: Final = frozenset(
    {
        "application/fhir+json",
        "application/json",
        "application/json+fhir",
        "application/fhir+xml",
        "application/xml+fhir",
    }
)


def wants_resource(request: Request, content_type: str) -> bool:
    """Whether the client asks for the FHIR form of a Binary of this content type."""
    if "_format" in request.query_params:
        return True
    accept = request.headers.get("accept")
    if not accept:
        return False
    offered = {media_type(part) for part in accept.split(",")}
    if media_type_essence(content_type) in offered:
        return False
    return bool(offered & FHIR_MEDIA_TYPES)


def content_type_of(stored: StoredResource) -> str:
    """The Binary's content type as served: its canonical form (parameters dropped: text was
    checked to be UTF-8, and Starlette labels text/* as such)."""
    assert stored.resource is not None
    return media_type_essence(str(stored.resource.get("contentType", "application/octet-stream")))


async def with_inline_data(
    services: Services, stored: StoredResource, body: dict[str, Any]
) -> dict[str, Any]:
    """The FHIR JSON form of a Binary read, with ``data`` when it is small enough to carry and
    the read was not shaped (``_summary``/``_elements`` give what they ask for)."""
    ref = blob_ref_of(body)
    if ref is None or "data" in body or body is not stored.resource:
        return body
    size = ref.size if ref.size is not None else await services.blob_store.size(ref.key)
    if size > services.settings.binary_inline_max_bytes:
        return body
    content = b"".join([chunk async for chunk in await services.blob_store.open(ref.key)])
    return {**body, "data": base64.b64encode(content).decode("ascii")}


def _range_applies(request: Request, stored: StoredResource) -> bool:
    """``If-Range``: honour the Range only when the client's copy is still the current one."""
    condition = request.headers.get("if-range")
    if condition is None:
        return True
    condition = condition.strip()
    if condition.startswith(("W/", '"')):
        return condition.removeprefix("W/") == stored.etag.removeprefix("W/")
    try:
        since = parsedate_to_datetime(condition)
    except (TypeError, ValueError):
        return False
    return stored.last_updated.replace(microsecond=0) <= since


def _content_headers(stored: StoredResource) -> dict[str, str]:
    version = Rendered(200, None, stored.etag, stored.last_updated).http_headers("")
    return {
        **version,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private",  # health data: never kept by shared caches
    }


def _span(request: Request, stored: StoredResource, size: int) -> tuple[int, int] | None:
    header = request.headers.get("range") if _range_applies(request, stored) else None
    return parse_range_header(header, size=size)


def _sized(headers: dict[str, str], span: tuple[int, int] | None, size: int) -> tuple[int, dict[str, str]]:
    if span is None:
        return 200, {**headers, "Content-Length": str(size)}
    first, last = span
    return 206, {
        **headers,
        "Content-Length": str(last - first + 1),
        "Content-Range": f"bytes {first}-{last}/{size}",
    }


async def content_response(
    request: Request, call: Call, services: Services, stored: StoredResource
) -> Response:
    """The Binary's bytes, streamed (see module doc)."""
    assert stored.resource is not None
    content_type = content_type_of(stored)
    headers = _content_headers(stored)
    if not_modified(call, stored):
        return Response(status_code=304, headers=headers)
    ref = blob_ref_of(stored.resource)
    if ref is None:  # a Binary written with inline data before documents were installed
        return _inline_content(request, stored, content_type, headers)
    if services.settings.s3_presigned_redirect:
        url = services.blob_store.presigned_url(
            ref.key, content_type=content_type, expires=PRESIGNED_URL_SECONDS
        )
        if url is not None:
            return Response(status_code=307, headers={"Location": url, "Cache-Control": "no-store"})
    size = ref.size if ref.size is not None else await services.blob_store.size(ref.key)
    span = _span(request, stored, size)
    first, last = span if span is not None else (None, None)
    chunks = await services.blob_store.open(ref.key, start=first, end=last)
    status, sized = _sized(headers, span, size)
    return StreamingResponse(chunks, status_code=status, media_type=content_type, headers=sized)


def _inline_content(
    request: Request, stored: StoredResource, content_type: str, headers: dict[str, str]
) -> Response:
    assert stored.resource is not None
    content = base64.b64decode(str(stored.resource.get("data", "")))
    span = _span(request, stored, len(content))
    body = content if span is None else content[span[0] : span[1] + 1]
    status, sized = _sized(headers, span, len(content))
    return Response(body, status_code=status, media_type=content_type, headers=sized)
