"""Math functions (FHIRPath section 5.7) and the aggregates sum/min/max/avg."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.equality import compare
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.functions.base import VALUE, FunctionDef, integer_argument, singleton
from fhir_server.fhirpath.operators import plus
from fhir_server.fhirpath.quantity import Quantity


def _number_input(focus: list[Any], function: str) -> Any:
    value = singleton(focus, f"the input of {function}()")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | Quantity):
        raise FhirPathError("execution", f"{function}() needs a number")
    return value


def _unary(function: str, body: Callable[[Any], Any]) -> Callable[..., list[Any]]:
    def fn(env: Env, focus: list[Any]) -> list[Any]:
        value = _number_input(focus, function)
        if value is None:
            return []
        try:
            result = body(value)
        except (ValueError, InvalidOperation, OverflowError):
            return []
        return [] if result is None else [result]

    return fn


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _abs(value: Any) -> Any:
    if isinstance(value, Quantity):
        return Quantity(abs(value.value), value.unit)
    return abs(value)


def _integral(rounding: str) -> Callable[[Any], Any]:
    def body(value: Any) -> Any:
        if isinstance(value, Quantity):
            raise FhirPathError("execution", "needs a number")
        return int(_decimal(value).to_integral_value(rounding=rounding))

    return body


def _exp(value: Any) -> Decimal:
    return _decimal(value).exp()


def _ln(value: Any) -> Decimal | None:
    number = _decimal(value)
    return None if number <= 0 else number.ln()


def _sqrt(value: Any) -> Decimal | None:
    number = _decimal(value)
    return None if number < 0 else number.sqrt()


def _log(env: Env, focus: list[Any], base: list[Any]) -> list[Any]:
    value = _number_input(focus, "log")
    base_value = singleton(base, "log() base")
    if value is None or base_value is None:
        return []
    number, radix = _decimal(value), _decimal(base_value)
    if number <= 0 or radix <= 0 or radix == 1:
        return []
    result = Decimal(math.log(float(number), float(radix)))
    return [round(result, 12).normalize() if result != result.to_integral_value() else result]


def _power(env: Env, focus: list[Any], exponent: list[Any]) -> list[Any]:
    value = _number_input(focus, "power")
    power = singleton(exponent, "power() exponent")
    if value is None or power is None:
        return []
    if isinstance(value, int) and isinstance(power, int) and power >= 0:
        return [value**power]
    try:
        result = _decimal(value) ** _decimal(power)
    except InvalidOperation:
        return []
    return [] if result.is_nan() else [result]


def _round(env: Env, focus: list[Any], precision: list[Any] | None = None) -> list[Any]:
    value = _number_input(focus, "round")
    places = integer_argument(precision, "round() precision") if precision else 0
    if value is None:
        return []
    if places is None or places < 0:
        raise FhirPathError("execution", "round() precision must be a non-negative integer")
    return [_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)]


def _truncate(value: Any) -> int:
    return int(_decimal(value).to_integral_value(rounding=ROUND_DOWN))


def _aggregate_values(focus: list[Any], function: str) -> list[Any]:
    values = [singleton([item]) for item in focus]
    if any(isinstance(v, bool) or not isinstance(v, int | Decimal | Quantity | str) for v in values):
        raise FhirPathError("execution", f"{function}() needs numbers")
    return values


def _sum(env: Env, focus: list[Any]) -> list[Any]:
    total: list[Any] = [0]
    for value in _aggregate_values(focus, "sum"):
        total = plus(total, [value])
    return total if focus else [0]


def _extreme(sign: int) -> Callable[..., list[Any]]:
    def fn(env: Env, focus: list[Any]) -> list[Any]:
        best: Any = None
        for value in _aggregate_values(focus, "min" if sign < 0 else "max"):
            if best is None or (compare(value, best) or 0) * sign > 0:
                best = value
        return [] if best is None else [best]

    return fn


def _avg(env: Env, focus: list[Any]) -> list[Any]:
    values = _aggregate_values(focus, "avg")
    if not values:
        return []
    return [sum(_decimal(v) for v in values) / Decimal(len(values))]


FUNCTIONS: dict[str, FunctionDef] = {
    "abs": FunctionDef(_unary("abs", _abs)),
    "ceiling": FunctionDef(_unary("ceiling", _integral(ROUND_CEILING))),
    "floor": FunctionDef(_unary("floor", _integral(ROUND_FLOOR))),
    "exp": FunctionDef(_unary("exp", _exp)),
    "ln": FunctionDef(_unary("ln", _ln)),
    "sqrt": FunctionDef(_unary("sqrt", _sqrt)),
    "truncate": FunctionDef(_unary("truncate", _truncate)),
    "log": FunctionDef(_log, (VALUE,)),
    "power": FunctionDef(_power, (VALUE,)),
    "round": FunctionDef(_round, (VALUE,), required=0),
    "sum": FunctionDef(_sum),
    "min": FunctionDef(_extreme(-1)),
    "max": FunctionDef(_extreme(1)),
    "avg": FunctionDef(_avg),
}
