"""FHIRPath's binary operators on collections: comparison, arithmetic, strings, membership, union."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from fhir_server.fhirpath.equality import compare, equals, equivalent
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.functions.base import singleton
from fhir_server.fhirpath.quantity import (
    CALENDAR_AS_UCUM,
    Quantity,
    canonical,
    multiply_units,
    require_ucum,
)
from fhir_server.fhirpath.temporal import UCUM_CALENDAR, Temporal

Operator = Callable[[list[Any], list[Any]], list[Any]]


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


# ----- equality -------------------------------------------------------------------------------


def equal(left: list[Any], right: list[Any]) -> list[Any]:
    if not left or not right:
        return []
    if len(left) != len(right):
        return [False]
    unknown = False
    for a, b in zip(left, right, strict=True):
        result = equals(a, b)
        if result is False:
            return [False]
        if result is None:
            unknown = True
    return [] if unknown else [True]


def not_equal(left: list[Any], right: list[Any]) -> list[Any]:
    result = equal(left, right)
    return [not result[0]] if result else []


def equivalent_collections(left: list[Any], right: list[Any]) -> bool:
    if len(left) != len(right):
        return False
    remaining = list(right)
    for a in left:  # order does not matter for equivalence
        for index, b in enumerate(remaining):
            if equivalent(a, b):
                del remaining[index]
                break
        else:
            return False
    return True


def equivalent_op(left: list[Any], right: list[Any]) -> list[Any]:
    return [equivalent_collections(left, right)]


def not_equivalent_op(left: list[Any], right: list[Any]) -> list[Any]:
    return [not equivalent_collections(left, right)]


def _ordering(test: Callable[[int], bool]) -> Operator:
    def operator(left: list[Any], right: list[Any]) -> list[Any]:
        a = singleton(left, "the left operand")
        b = singleton(right, "the right operand")
        if a is None or b is None:
            return []
        result = compare(a, b)
        return [] if result is None else [test(result)]

    return operator


# ----- membership and union -------------------------------------------------------------------


def contains_item(collection: list[Any], item: Any) -> bool:
    return any(equals(member, item) is True for member in collection)


def in_op(left: list[Any], right: list[Any]) -> list[Any]:
    if not left:
        return []
    if len(left) > 1:
        raise FhirPathError("execution", "the left operand of 'in' has more than one item")
    return [contains_item(right, left[0])]


def contains_op(left: list[Any], right: list[Any]) -> list[Any]:
    return in_op(right, left)


def union(left: list[Any], right: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in (*left, *right):
        if not contains_item(out, item):
            out.append(item)
    return out


# ----- arithmetic -----------------------------------------------------------------------------


def _operands(left: list[Any], right: list[Any]) -> tuple[Any, Any] | None:
    a = singleton(left, "the left operand")
    b = singleton(right, "the right operand")
    if a is None or b is None:
        return None
    return a, b


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _calendar_step(quantity: Quantity) -> tuple[int, str]:
    unit = quantity.unit
    if unit in UCUM_CALENDAR:
        unit = UCUM_CALENDAR[unit]
    elif unit not in CALENDAR_AS_UCUM and unit not in ("year", "month"):
        raise FhirPathError("execution", f"'{quantity.unit}' is not a time unit for date arithmetic")
    return int(quantity.value), unit


def plus(left: list[Any], right: list[Any]) -> list[Any]:
    pair = _operands(left, right)
    if pair is None:
        return []
    a, b = pair
    if isinstance(a, str) and isinstance(b, str):
        return [a + b]
    if _number(a) and _number(b):
        return [a + b if isinstance(a, int) and isinstance(b, int) else _decimal(a) + _decimal(b)]
    if isinstance(a, Temporal) and isinstance(b, Quantity):
        amount, unit = _calendar_step(b)
        return [a.add(amount, unit)]
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return _quantity_sum(a, b, 1)
    raise FhirPathError("execution", "these values cannot be added")


def minus(left: list[Any], right: list[Any]) -> list[Any]:
    pair = _operands(left, right)
    if pair is None:
        return []
    a, b = pair
    if _number(a) and _number(b):
        return [a - b if isinstance(a, int) and isinstance(b, int) else _decimal(a) - _decimal(b)]
    if isinstance(a, Temporal) and isinstance(b, Quantity):
        amount, unit = _calendar_step(b)
        return [a.add(-amount, unit)]
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return _quantity_sum(a, b, -1)
    raise FhirPathError("execution", "these values cannot be subtracted")


def _quantity_sum(a: Quantity, b: Quantity, sign: int) -> list[Any]:
    if a.unit == b.unit:
        return [Quantity(a.value + sign * b.value, a.unit)]
    if a.compare(b) is None:
        return []
    factor_b = canonical(CALENDAR_AS_UCUM.get(b.unit, b.unit)).factor
    factor_a = canonical(CALENDAR_AS_UCUM.get(a.unit, a.unit)).factor
    converted = b.value * Decimal(factor_b.numerator) / Decimal(factor_b.denominator)
    converted = converted * Decimal(factor_a.denominator) / Decimal(factor_a.numerator)
    return [Quantity(a.value + sign * converted, a.unit)]


def times(left: list[Any], right: list[Any]) -> list[Any]:
    pair = _operands(left, right)
    if pair is None:
        return []
    a, b = pair
    if _number(a) and _number(b):
        return [a * b if isinstance(a, int) and isinstance(b, int) else _decimal(a) * _decimal(b)]
    if isinstance(a, Quantity) and _number(b):
        return [a.scaled(_decimal(b))]
    if _number(a) and isinstance(b, Quantity):
        return [b.scaled(_decimal(a))]
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        require_ucum(a)
        require_ucum(b)
        return [Quantity(a.value * b.value, multiply_units(a.unit, b.unit, divide=False))]
    raise FhirPathError("execution", "these values cannot be multiplied")


def divide(left: list[Any], right: list[Any]) -> list[Any]:
    pair = _operands(left, right)
    if pair is None:
        return []
    a, b = pair
    try:
        if _number(a) and _number(b):
            return [] if b == 0 else [_decimal(a) / _decimal(b)]
        if isinstance(a, Quantity) and _number(b):
            return [] if b == 0 else [Quantity(a.value / _decimal(b), a.unit)]
        if isinstance(a, Quantity) and isinstance(b, Quantity):
            if b.value == 0:
                return []
            if a.compare(b) is not None and a.unit != b.unit:
                converted = _quantity_sum(Quantity(Decimal(0), a.unit), b, 1)[0]
                return [Quantity(a.value / converted.value, "1")]
            return [Quantity(a.value / b.value, multiply_units(a.unit, b.unit, divide=True))]
    except (DivisionByZero, InvalidOperation):
        return []
    raise FhirPathError("execution", "these values cannot be divided")


def integer_divide(left: list[Any], right: list[Any]) -> list[Any]:
    pair = _operands(left, right)
    if pair is None:
        return []
    a, b = pair
    if not (_number(a) and _number(b)):
        raise FhirPathError("execution", "div needs numbers")
    if b == 0:
        return []
    return [int(_decimal(a) / _decimal(b))]


def modulo(left: list[Any], right: list[Any]) -> list[Any]:
    pair = _operands(left, right)
    if pair is None:
        return []
    a, b = pair
    if not (_number(a) and _number(b)):
        raise FhirPathError("execution", "mod needs numbers")
    if b == 0:
        return []
    if isinstance(a, int) and isinstance(b, int):
        return [int(Decimal(a) % Decimal(b))]
    return [_decimal(a) % _decimal(b)]


def concatenate(left: list[Any], right: list[Any]) -> list[Any]:
    a = singleton(left, "the left operand") if left else ""
    b = singleton(right, "the right operand") if right else ""
    if not isinstance(a, str) or not isinstance(b, str):
        raise FhirPathError("execution", "& needs strings")
    return [a + b]


BINARY: dict[str, Operator] = {
    "=": equal,
    "!=": not_equal,
    "~": equivalent_op,
    "!~": not_equivalent_op,
    "<": _ordering(lambda r: r < 0),
    "<=": _ordering(lambda r: r <= 0),
    ">": _ordering(lambda r: r > 0),
    ">=": _ordering(lambda r: r >= 0),
    "in": in_op,
    "contains": contains_op,
    "|": union,
    "+": plus,
    "-": minus,
    "*": times,
    "/": divide,
    "div": integer_divide,
    "mod": modulo,
    "&": concatenate,
}
