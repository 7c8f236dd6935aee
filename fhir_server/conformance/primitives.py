"""FHIR primitive values in JSON (http://hl7.org/fhir/R4B/json.html, datatypes.html): the JSON type
each primitive must have, its regular expression and its limits.

``check_primitive(type_code, value)`` answers None when the value is valid, else the problem in a
short sentence that never quotes the value (it may be PHI). Dispatch is a table by type name.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Final

MAX_STRING_BYTES: Final = 1024 * 1024  # "strings SHALL NOT exceed 1MB in size"
MAX_DECIMAL_DIGITS: Final = 34  # what BSON Decimal128 keeps exactly
DECIMAL128_EXPONENTS: Final = (-6176, 6111)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# Characters below U+0020 other than tab, line feed and carriage return are not allowed in FHIR
# strings (nor in XML, the other representation every resource must survive).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?"
_DAY = r"(0[1-9]|[1-2][0-9]|3[0-1])"
_MONTH = r"(0[1-9]|1[0-2])"
PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    "date": re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY})?)?"),
    "dateTime": re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY}(T{_TIME}{_ZONE})?)?)?"),
    "instant": re.compile(rf"{_YEAR}-{_MONTH}-{_DAY}T{_TIME}{_ZONE}"),
    "time": re.compile(_TIME),
    "code": re.compile(r"[^\s]+( [^\s]+)*"),
    "id": re.compile(r"[A-Za-z0-9\-.]{1,64}"),
    "oid": re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"),
    "uuid": re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "uri": re.compile(r"\S+"),
}
DATE_TYPES: Final = frozenset({"date", "dateTime", "instant"})
STRING_TYPES: Final = frozenset(
    {"string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid", "base64Binary",
     "date", "dateTime", "instant", "time", "xhtml"}
)  # fmt: skip
INTEGER_TYPES: Final = frozenset({"integer", "positiveInt", "unsignedInt"})
PRIMITIVE_TYPES: Final = STRING_TYPES | INTEGER_TYPES | {"boolean", "decimal"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _string(value: Any, type_code: str) -> str | None:
    if not isinstance(value, str):
        return f"A {type_code} must be a JSON string, not {_json_type(value)}"
    if not value:
        return f"A {type_code} must not be empty: leave the element out"
    if len(value) > MAX_STRING_BYTES // 4 and len(value.encode()) > MAX_STRING_BYTES:
        return f"A {type_code} must not be longer than 1 MB"
    if _CONTROL.search(value):
        return f"A {type_code} must not contain control characters"
    return None


def _patterned(type_code: str) -> Callable[[Any], str | None]:
    pattern = PATTERNS["uri" if type_code in ("url", "canonical") else type_code]

    def check(value: Any) -> str | None:
        problem = _string(value, type_code)
        if problem is None and not pattern.fullmatch(value):
            problem = f"Not a valid {type_code}"
        if problem is None and type_code in DATE_TYPES and not _real_date(value):
            problem = f"Not a valid {type_code}: there is no such day"
        return problem

    return check


def _real_date(value: str) -> bool:
    if len(value) < 10:
        return True
    try:
        date(int(value[:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def _boolean(value: Any) -> str | None:
    return (
        None if isinstance(value, bool) else f"A boolean must be JSON true or false, not {_json_type(value)}"
    )


def _integer(low: int, high: int, type_code: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, Decimal | float):
                return f"An {type_code} must be a JSON number without a fraction or exponent"
            return f"An {type_code} must be a JSON number, not {_json_type(value)}"
        if not low <= value <= high:
            return f"An {type_code} must lie between {low} and {high}"
        return None

    return check


def _decimal(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return f"A decimal must be a JSON number, not {_json_type(value)}"
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        return "A decimal must be a finite number"
    if len(number.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        return f"A decimal with more than {MAX_DECIMAL_DIGITS} significant digits is not supported"
    if not DECIMAL128_EXPONENTS[0] <= int(number.as_tuple().exponent) <= DECIMAL128_EXPONENTS[1]:
        return "A decimal this large or this small is not supported"
    return None


def _base64(value: Any) -> str | None:
    problem = _string(value, "base64Binary")
    if problem is not None:
        return problem
    try:  # validate=True refuses characters outside the alphabet and bad padding (in C: fast)
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return "Not valid base64 content"
    return None


def _plain(type_code: str) -> Callable[[Any], str | None]:
    return lambda value: _string(value, type_code)


CHECKS: Final[dict[str, Callable[[Any], str | None]]] = {
    "boolean": _boolean,
    "integer": _integer(INT32_MIN, INT32_MAX, "integer"),
    "positiveInt": _integer(1, INT32_MAX, "positiveInt"),
    "unsignedInt": _integer(0, INT32_MAX, "unsignedInt"),
    "decimal": _decimal,
    "base64Binary": _base64,
    "string": _plain("string"),
    "markdown": _plain("markdown"),
    "xhtml": _plain("xhtml"),
    **{name: _patterned(name) for name in ("code", "id", "uri", "url", "canonical", "oid", "uuid")},
    **{name: _patterned(name) for name in ("date", "dateTime", "instant", "time")},
}


def check_primitive(type_code: str, value: Any) -> str | None:
    """None when ``value`` is a valid JSON value of the primitive type, else what is wrong."""
    check = CHECKS.get(type_code)
    return check(value) if check is not None else None


def decoded_base64(value: str) -> bytes:
    """The bytes of a valid base64Binary value (whitespace ignored)."""
    return base64.b64decode("".join(value.split()))
