"""JSON in and out: orjson, with FHIR-flavoured errors."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.errors import BadRequest


def parse_json(body: bytes) -> Any:
    """Parse a request body; malformed JSON is a 400 that says where it broke."""
    if not body.strip():
        raise BadRequest("the request body is empty; a JSON document was expected")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"malformed JSON: {error}") from None


def parse_json_object(body: bytes) -> dict[str, Any]:
    value = parse_json(body)
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value


def dump_json(value: Any, *, pretty: bool = False) -> bytes:
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS)
