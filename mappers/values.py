"""Values that need care between Python and FHIR JSON: dates and times (time zones required),
and exact decimals (the server stores JSON numbers as doubles, which keep 15 significant digits)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import AfterValidator

from mappers.common import JsonDict, MappingError

# A double keeps 15 significant digits exactly; the server stores JSON numbers as doubles.
_DOUBLE_DIGITS: Final = 15
_CENT: Final = Decimal("0.01")


def _exact_in_json(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if len(value.normalize().as_tuple().digits) > _DOUBLE_DIGITS:
        raise ValueError(f"has more than {_DOUBLE_DIGITS} significant digits, which FHIR JSON storage loses")
    return value


def _money_amount(value: Decimal) -> Decimal:
    """Non-negative, exact in JSON, with at least cents (``Decimal("0.1")`` becomes ``0.10``)."""
    value = _exact_in_json(value)
    if value < 0:
        raise ValueError("must not be negative")
    exponent = value.as_tuple().exponent
    return value.quantize(_CENT) if isinstance(exponent, int) and exponent > -2 else value


Amount = Annotated[Decimal, AfterValidator(_money_amount)]
Measure = Annotated[Decimal, AfterValidator(_exact_in_json)]


# ----- dates ---------------------------------------------------------------------------------------


def date_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def datetime_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def read_date(value: Any, where: str) -> date:
    """A full date, from a ``date`` or from the date part of a ``dateTime``."""
    if not isinstance(value, str) or len(value) < 10:
        raise MappingError(f"{where} is not a full date")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise MappingError(f"{where} is not a full date") from None


def read_optional_date(value: Any, where: str) -> date | None:
    return None if value is None else read_date(value, where)


def read_datetime(value: Any, where: str) -> datetime:
    """A dateTime/instant with a time and a time zone."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and "T" in value else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MappingError(f"{where} is not a date and time with a time zone")
    return parsed


def read_optional_datetime(value: Any, where: str) -> datetime | None:
    return None if value is None else read_datetime(value, where)


# ----- numbers and money ---------------------------------------------------------------------------


def json_number(value: Decimal) -> int | float:
    """A JSON number printing exactly ``value`` (records hold at most 15 significant digits)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def read_decimal(value: Any, where: str) -> Decimal:
    """The decimal a JSON number stands for: ``str(float)`` is the shortest text of that double."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise MappingError(f"{where} is not a number")
    return Decimal(str(value))


def money(amount: Decimal, currency: str) -> JsonDict:
    return {"value": json_number(amount), "currency": currency}


def read_money(value: Any, where: str) -> tuple[Decimal, str]:
    """(amount, currency) of a Money."""
    if not isinstance(value, dict) or not isinstance(value.get("currency"), str):
        raise MappingError(f"{where} is not an amount with a currency")
    return read_decimal(value.get("value"), f"{where}.value"), str(value["currency"])
