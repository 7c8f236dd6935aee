"""Reading request bodies with a size limit (413 before the whole body is held)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from fhir_server.errors import BadRequest, PayloadTooLarge
from fhir_server.jsonio import parse_json_object


async def read_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, *, limit: int) -> dict[str, Any]:
    return parse_json_object(await read_body(request, limit=limit))
