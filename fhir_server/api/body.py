"""Reading request bodies: a size limit (413 before the whole body is held), a read-time limit
(408 for a client that stalls), and a bound on JSON nesting (400, never a stack overflow later)."""

from __future__ import annotations

import asyncio
from typing import Any, Final

from starlette.requests import Request

from fhir_server.errors import BadRequest, PayloadTooLarge, RequestTimeout
from fhir_server.jsonio import parse_json

# Deeper than any real resource (Questionnaire items nest a dozen levels), shallow enough that no
# validator, indexer or FHIRPath evaluation recurses out of stack.
MAX_JSON_DEPTH: Final = 100


async def read_body(request: Request, *, limit: int, seconds: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {seconds:g} seconds") from None
    return b"".join(chunks)


def json_depth(value: Any) -> int:
    """How deeply objects and arrays nest in a parsed JSON value (iteratively: no recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, dict | list))
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node if isinstance(child, dict | list))
    return deepest


def read_json(raw: bytes) -> Any:
    """A parsed JSON body, refused when it nests deeper than :data:`MAX_JSON_DEPTH`."""
    value = parse_json(raw)
    if json_depth(value) > MAX_JSON_DEPTH:
        raise BadRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    return value
