"""JSON in and out: orjson, with FHIR-flavoured errors and exact decimals.

FHIR decimals carry their precision (``1.50`` is not ``1.5``), so JSON numbers with a fraction or
an exponent are read as :class:`decimal.Decimal` and written back from their text. orjson cannot
keep a number's text, so a document holding such numbers (or integers too long for 64 bits) is
parsed again by the standard library with ``parse_float=Decimal``; documents without them (most
writes, every read) stay on orjson. A FHIR document must not repeat a property name: orjson keeps
the last one silently, so the members of the text are counted and compared with what was parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson

from fhir_server.errors import BadRequest, InvalidResource, Issue

UTF8_BOM = b"\xef\xbb\xbf"
# A JSON string (escapes included); what is left once they are blanked is structure and numbers.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# A number that is not a (64-bit) integer: a fraction, an exponent, or 19 digits and more. Such
# documents are parsed with the standard library: decimals as Decimal, integers beyond 64 bits too.
_NOT_INT64 = re.compile(rb"[0-9][.eE]|[0-9]{19}")


def parse_json(body: bytes) -> Any:
    """Parse a request body as FHIR JSON: decimals as ``Decimal`` with their precision, integers as
    ``int``, a leading UTF-8 BOM allowed, repeated property names refused. Malformed JSON is a 400
    that says where it broke; repetitions are a 400 with one issue per repetition."""
    body = body.removeprefix(UTF8_BOM)
    skeleton = _STRING.sub(b'""', body)
    value = _parse_exact(body) if _NOT_INT64.search(skeleton) else _parse_fast(body)
    if skeleton.count(b":") != _member_count(value):
        raise _duplicates(body)
    return value


def parse_json_object(body: bytes) -> dict[str, Any]:
    value = parse_json(body)
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value


def _parse_fast(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest("the request body is empty; a JSON document was expected")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"malformed JSON: {error}") from None


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"malformed JSON: {name} is not a JSON number")


def _integer(text: str) -> int | Decimal:
    """An int, or a Decimal beyond 64 bits (what BSON stores; only decimals may be that long)."""
    value = int(text)
    return value if -(2**63) <= value < 2**63 else Decimal(text)


def _parse_exact(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal, parse_int=_integer, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        _parse_fast(body)  # raises with orjson's message, which says where the document broke
        raise BadRequest("malformed JSON") from None


def _member_count(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            count += len(current)
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return count


class _Pairs(list[tuple[str, Any]]):
    """An object as its member list, so that repeated names survive parsing."""


def _duplicates(body: bytes) -> InvalidResource:
    tree = json.loads(body, object_pairs_hook=_Pairs, parse_float=Decimal, parse_constant=_reject_constant)
    root = "$"
    if isinstance(tree, _Pairs):
        root = next((v for k, v in tree if k == "resourceType" and isinstance(v, str)), "$")
    issues = [
        Issue("structure", f"The property '{name}' appears more than once in an object", "error", (where,))
        for where, name in _repeated(tree, root)
    ]
    return InvalidResource(issues)


def _repeated(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for name, child in node:
            if name in seen:
                yield f"{path}.{name.lstrip('_')}", name
            seen.add(name)
            yield from _repeated(child, f"{path}.{name.lstrip('_')}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _repeated(item, f"{path}[{index}]")


def _encode_extra(value: Any) -> Any:
    """orjson's ``default``: decimals print their exact text (``1.50``, ``1.5E+3``)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("a decimal that is not finite has no JSON form")
        return orjson.Fragment(str(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(value: Any, *, pretty: bool = False, sort_keys: bool = False) -> bytes:
    """FHIR JSON out: the one encoder for resources (stored decimals are ``Decimal``)."""
    option = orjson.OPT_NON_STR_KEYS
    if pretty:
        option |= orjson.OPT_INDENT_2
    if sort_keys:
        option |= orjson.OPT_SORT_KEYS
    return orjson.dumps(value, default=_encode_extra, option=option)
