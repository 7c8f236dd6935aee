"""Numbers for ``number`` and ``quantity`` search: precision-implied equality as exact tokens.

FHIR ``eq`` on a number is a range implied by the query's precision: ``100`` matches
[99.5, 100.5), ``100.0`` matches [99.95, 100.05), ``1e2`` matches [50, 150). A value v lies in the
range of a query q with d decimals exactly when v rounded (half up, towards +inf) to d decimals
equals q. So each stored value keeps ``R<d>:<rounded>`` tokens for d from ``MIN_DECIMALS`` to one
less than its own decimals, plus ``X:<value>`` standing for every finer d (rounding no longer
changes it). A query is then ``$in: ["R<d>:<q>", "X:<q>"]``: one index lookup, exact even for
resources with several values. Queries coarser than ``MIN_DECIMALS`` are treated as that precision.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from functools import lru_cache

MIN_DECIMALS = -3
MAX_DECIMALS = 12
_HALF = Decimal("0.5")


def to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):  # FHIR decimals are parsed and stored as Decimal (exact)
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def canonical(number: Decimal) -> str:
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


def decimals(number: Decimal) -> int:
    """Digits after the decimal point as written (``100.0`` -> 1, ``1e2`` -> -2)."""
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def round_to(number: Decimal, places: int) -> Decimal:
    step = Decimal(1).scaleb(-places)
    return ((number / step) + _HALF).to_integral_value(rounding=ROUND_FLOOR) * step


@lru_cache(maxsize=8192)  # measurements repeat a lot (weights, counts, scores ...)
def value_tokens(number: Decimal) -> tuple[str, ...]:
    """The equality tokens stored for one value."""
    own = min(max(decimals(number.normalize()), 0), MAX_DECIMALS)
    tokens = [f"R{d}:{canonical(round_to(number, d))}" for d in range(MIN_DECIMALS, own)]
    tokens.append(f"X:{canonical(number)}")
    return tuple(tokens)


def query_tokens(number: Decimal) -> list[str]:
    """The tokens a stored value must have one of to equal the query (precision-implied range)."""
    places = max(decimals(number), MIN_DECIMALS)
    return [f"R{places}:{canonical(number)}", f"X:{canonical(number)}"]


def precision_range(number: Decimal) -> tuple[float, float]:
    """[low, high) the query's precision implies (used for residual checks and ``ap``)."""
    half = Decimal(1).scaleb(-max(decimals(number), MIN_DECIMALS)) / 2
    return float(number - half), float(number + half)
