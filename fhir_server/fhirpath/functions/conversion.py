"""Conversion functions: ``toX()`` and ``convertsToX()`` (FHIRPath section 5.5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.functions.base import VALUE, FunctionDef, singleton, string_argument
from fhir_server.fhirpath.nodes import Node
from fhir_server.fhirpath.quantity import PLURALS, Quantity, parse_quantity
from fhir_server.fhirpath.temporal import DATE, DATETIME, TIME, Temporal, parse_date_time, parse_time

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})

Converter = Callable[[Any], Any]  # System value -> converted value, or None when it does not convert


def _input(focus: list[Any], function: str) -> Any:
    value = singleton(focus, f"the input of {function}()")
    return None if type(value) is Node else value  # a complex element converts to nothing


def to_boolean_value(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    return None


def to_integer_value(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def to_decimal_value(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    return None


def format_decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text


def to_string_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Temporal | Quantity):
        return str(value)
    return None


def to_quantity_value(value: Any, unit: str | None = None) -> Quantity | None:
    quantity: Quantity | None = None
    if isinstance(value, bool):
        quantity = Quantity(Decimal(int(value)), "1")
    elif isinstance(value, int | Decimal):
        quantity = Quantity(Decimal(value), "1")
    elif isinstance(value, Quantity):
        quantity = value
    elif isinstance(value, str):
        quantity = parse_quantity(value)
    if quantity is None or unit is None:
        return quantity
    # converting between units is not offered: only the quantity's own unit is
    return quantity if PLURALS.get(unit, unit) == quantity.unit else None


def to_date_value(value: Any) -> Temporal | None:
    if isinstance(value, Temporal) and value.kind != TIME:
        if value.kind == DATE:
            return value
        return Temporal(DATE, value.parts[:3])
    if isinstance(value, str):
        return parse_date_time(value, kind=DATE)
    return None


def to_date_time_value(value: Any) -> Temporal | None:
    if isinstance(value, Temporal) and value.kind != TIME:
        return Temporal(DATETIME, value.parts, value.tz, value.tz_text)
    if isinstance(value, str):
        return parse_date_time(value, kind=DATETIME)
    return None


def to_time_value(value: Any) -> Temporal | None:
    if isinstance(value, Temporal) and value.kind == TIME:
        return value
    if isinstance(value, str):
        return parse_time(value)
    return None


def _to(converter: Converter, name: str) -> Callable[..., list[Any]]:
    def convert(env: Env, focus: list[Any]) -> list[Any]:
        value = _input(focus, name)
        if value is None:
            return []
        result = converter(value)
        return [] if result is None else [result]

    return convert


def _converts_to(converter: Converter, name: str) -> Callable[..., list[Any]]:
    def check(env: Env, focus: list[Any]) -> list[Any]:
        value = _input(focus, name)
        if value is None:
            return []
        return [converter(value) is not None]

    return check


def _to_quantity(env: Env, focus: list[Any], unit: list[Any] | None = None) -> list[Any]:
    value = _input(focus, "toQuantity")
    if value is None:
        return []
    result = to_quantity_value(value, string_argument(unit, "unit") if unit else None)
    return [] if result is None else [result]


def _converts_to_quantity(env: Env, focus: list[Any], unit: list[Any] | None = None) -> list[Any]:
    value = _input(focus, "convertsToQuantity")
    if value is None:
        return []
    return [to_quantity_value(value, string_argument(unit, "unit") if unit else None) is not None]


_CONVERTERS: dict[str, Converter] = {
    "Boolean": to_boolean_value,
    "Integer": to_integer_value,
    "Decimal": to_decimal_value,
    "String": to_string_value,
    "Date": to_date_value,
    "DateTime": to_date_time_value,
    "Time": to_time_value,
}

FUNCTIONS: dict[str, FunctionDef] = {
    **{f"to{name}": FunctionDef(_to(converter, f"to{name}")) for name, converter in _CONVERTERS.items()},
    **{
        f"convertsTo{name}": FunctionDef(_converts_to(converter, f"convertsTo{name}"))
        for name, converter in _CONVERTERS.items()
    },
    "toQuantity": FunctionDef(_to_quantity, (VALUE,), required=0),
    "convertsToQuantity": FunctionDef(_converts_to_quantity, (VALUE,), required=0),
}
