"""String functions (FHIRPath section 5.6 and the 2.0 additions: encode, escape, trim, split, join)."""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.functions.base import (
    VALUE,
    FunctionDef,
    input_string,
    integer_argument,
    string_argument,
)
from fhir_server.fhirpath.nodes import system_value


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as error:
        raise FhirPathError("execution", f"invalid regular expression: {error}") from error


def _string_fn(name: str, body: Callable[..., Any], *arg_names: str) -> Callable[..., list[Any]]:
    """A function of one input string and string arguments; empty in, empty out."""

    def fn(env: Env, focus: list[Any], *args: list[Any]) -> list[Any]:
        text = input_string(focus, name)
        if text is None:
            return []
        values = [
            string_argument(arg, f"{name}() {label}") for arg, label in zip(args, arg_names, strict=False)
        ]
        if any(value is None for value in values):
            return []
        result = body(text, *values)
        return [] if result is None else [result]

    return fn


def _substring(env: Env, focus: list[Any], start: list[Any], length: list[Any] | None = None) -> list[Any]:
    text = input_string(focus, "substring")
    begin = integer_argument(start, "substring() start")
    if text is None or begin is None or begin < 0 or begin >= len(text):
        return []
    if length is None or not length:
        return [text[begin:]]
    count = integer_argument(length, "substring() length")
    if count is None:
        return [text[begin:]]
    return [text[begin : begin + max(count, 0)]]


def _replace(text: str, pattern: str, substitution: str) -> str:
    if pattern == "":
        return substitution + substitution.join(text) + substitution
    return text.replace(pattern, substitution)


def _replace_matches(text: str, pattern: str, substitution: str) -> str:
    if pattern == "":
        return text
    python_substitution = re.sub(r"\$(\d+)", r"\\\1", substitution)
    return _regex(pattern).sub(python_substitution, text)


def _length(env: Env, focus: list[Any]) -> list[Any]:
    text = input_string(focus, "length")
    return [] if text is None else [len(text)]


def _to_chars(env: Env, focus: list[Any]) -> list[Any]:
    text = input_string(focus, "toChars")
    return [] if text is None else list(text)


def _split(text: str, separator: str) -> list[str]:
    return text.split(separator) if separator else list(text)


def _split_fn(env: Env, focus: list[Any], separator: list[Any]) -> list[Any]:
    text = input_string(focus, "split")
    sep = string_argument(separator, "split() separator")
    if text is None or sep is None:
        return []
    return list(_split(text, sep))


def _join(env: Env, focus: list[Any], separator: list[Any] | None = None) -> list[Any]:
    sep = string_argument(separator, "join() separator") if separator else ""
    values = [system_value(item) for item in focus]
    if any(not isinstance(value, str) for value in values):
        raise FhirPathError("execution", "join() needs strings")
    return [(sep or "").join(values)]


def _encode(text: str, encoding: str) -> str | None:
    raw = text.encode("utf-8")
    if encoding == "base64":
        return base64.b64encode(raw).decode("ascii")
    if encoding == "urlbase64":
        return base64.urlsafe_b64encode(raw).decode("ascii")
    if encoding == "hex":
        return raw.hex()
    return None


def _decode(text: str, encoding: str) -> str | None:
    try:
        if encoding == "base64":
            return base64.b64decode(text, validate=True).decode("utf-8")
        if encoding == "urlbase64":
            return base64.urlsafe_b64decode(text).decode("utf-8")
        if encoding == "hex":
            return bytes.fromhex(text).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return None


def _escape(text: str, target: str) -> str | None:
    if target == "html":
        return html.escape(text, quote=True).replace("&#x27;", "'")
    if target == "json":
        return json.dumps(text)[1:-1]
    return None


def _unescape(text: str, target: str) -> str | None:
    if target == "html":
        return html.unescape(text)
    if target == "json":
        return _JSON_ESCAPE.sub(_json_unescape, text)
    return None


_JSON_ESCAPE = re.compile(r'\\(["\\/bfnrt]|u[0-9a-fA-F]{4})')
_JSON_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code.startswith("u"):
        return chr(int(code[1:], 16))
    return _JSON_ESCAPES.get(code, code)


def _index_of(text: str, part: str) -> int:
    return text.find(part)


FUNCTIONS: dict[str, FunctionDef] = {
    "indexOf": FunctionDef(_string_fn("indexOf", _index_of, "substring"), (VALUE,)),
    "substring": FunctionDef(_substring, (VALUE, VALUE), required=1),
    "startsWith": FunctionDef(_string_fn("startsWith", lambda t, p: t.startswith(p), "prefix"), (VALUE,)),
    "endsWith": FunctionDef(_string_fn("endsWith", lambda t, s: t.endswith(s), "suffix"), (VALUE,)),
    "contains": FunctionDef(_string_fn("contains", lambda t, s: s in t, "substring"), (VALUE,)),
    "upper": FunctionDef(_string_fn("upper", str.upper)),
    "lower": FunctionDef(_string_fn("lower", str.lower)),
    "replace": FunctionDef(_string_fn("replace", _replace, "pattern", "substitution"), (VALUE, VALUE)),
    "matches": FunctionDef(
        _string_fn("matches", lambda t, p: _regex(p).search(t) is not None, "regex"), (VALUE,)
    ),
    "matchesFull": FunctionDef(
        _string_fn("matchesFull", lambda t, p: _regex(p).fullmatch(t) is not None, "regex"), (VALUE,)
    ),
    "replaceMatches": FunctionDef(
        _string_fn("replaceMatches", _replace_matches, "regex", "substitution"), (VALUE, VALUE)
    ),
    "length": FunctionDef(_length),
    "toChars": FunctionDef(_to_chars),
    "trim": FunctionDef(_string_fn("trim", str.strip)),
    "split": FunctionDef(_split_fn, (VALUE,)),
    "join": FunctionDef(_join, (VALUE,), required=0),
    "encode": FunctionDef(_string_fn("encode", _encode, "format"), (VALUE,)),
    "decode": FunctionDef(_string_fn("decode", _decode, "format"), (VALUE,)),
    "escape": FunctionDef(_string_fn("escape", _escape, "target"), (VALUE,)),
    "unescape": FunctionDef(_string_fn("unescape", _unescape, "target"), (VALUE,)),
}
