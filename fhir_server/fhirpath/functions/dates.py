"""Date and precision functions: now/today/timeOfDay, lowBoundary/highBoundary, precision,
comparable (FHIRPath 2.0; the R4B invariants use the boundaries on Periods and ranges)."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.functions.base import VALUE, FunctionDef, integer_argument, singleton
from fhir_server.fhirpath.quantity import Quantity
from fhir_server.fhirpath.temporal import DATE, TIME, Temporal

_MAX_DECIMAL_DIGITS = 28


def _now(env: Env, focus: list[Any]) -> list[Any]:
    return [env.now()]


def _today(env: Env, focus: list[Any]) -> list[Any]:
    current = env.now()
    return [Temporal(DATE, current.parts[:3])]


def _time_of_day(env: Env, focus: list[Any]) -> list[Any]:
    current = env.now()
    return [Temporal(TIME, current.parts[3:])]


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def decimal_boundary(value: Decimal, digits: int, *, high: bool) -> Decimal:
    """The smallest/largest decimal the value could stand for, given to ``digits`` places.

    The value is uncertain by half a unit of its last digit; the low boundary is truncated and the
    high one rounded to ``digits`` places, mirrored for negative values (as the reference tests do).
    """
    if value < 0:
        return -decimal_boundary(-value, digits, high=not high)
    half = Decimal(5).scaleb(-_places(value) - 1)
    boundary = value + half if high else value - half
    quantum = Decimal(1).scaleb(-digits)
    return boundary.quantize(quantum, rounding=ROUND_HALF_UP if high else ROUND_DOWN)


def _boundary(high: bool) -> Any:
    def fn(env: Env, focus: list[Any], precision: list[Any] | None = None) -> list[Any]:
        value = singleton(focus, "the input of a boundary function")
        digits = integer_argument(precision, "precision") if precision else None
        if value is None:
            return []
        if isinstance(value, Temporal):
            result = value.boundary(digits, high=high)
            return [] if result is None else [result]
        if isinstance(value, bool):
            raise FhirPathError("execution", "a boundary needs a number, quantity or date")
        wanted = 8 if digits is None else digits
        if wanted < 0 or wanted > _MAX_DECIMAL_DIGITS:
            return []
        if isinstance(value, int | Decimal):
            return [decimal_boundary(Decimal(value), wanted, high=high)]
        if isinstance(value, Quantity):
            return [Quantity(decimal_boundary(value.value, wanted, high=high), value.unit)]
        raise FhirPathError("execution", "a boundary needs a number, quantity or date")

    return fn


def _precision(env: Env, focus: list[Any]) -> list[Any]:
    value = singleton(focus, "the input of precision()")
    if value is None:
        return []
    if isinstance(value, Temporal):
        return [value.digits()]
    if isinstance(value, bool):
        raise FhirPathError("execution", "precision() needs a number or date")
    if isinstance(value, int):
        return [0]
    if isinstance(value, Decimal):
        return [_places(value)]
    if isinstance(value, Quantity):
        return [_places(value.value)]
    raise FhirPathError("execution", "precision() needs a number or date")


def _comparable(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
    value = singleton(focus, "the input of comparable()")
    against = singleton(other, "comparable() argument")
    if value is None or against is None:
        return []
    if not isinstance(value, Quantity) or not isinstance(against, Quantity):
        raise FhirPathError("execution", "comparable() needs quantities")
    return [value.comparable(against)]


FUNCTIONS: dict[str, FunctionDef] = {
    "now": FunctionDef(_now),
    "today": FunctionDef(_today),
    "timeOfDay": FunctionDef(_time_of_day),
    "lowBoundary": FunctionDef(_boundary(high=False), (VALUE,), required=0),
    "highBoundary": FunctionDef(_boundary(high=True), (VALUE,), required=0),
    "precision": FunctionDef(_precision),
    "comparable": FunctionDef(_comparable, (VALUE,)),
}
