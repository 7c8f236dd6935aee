"""Index entries of ordered values: dates (date, dateTime, instant, Period, Timing), numbers and
quantities (Quantity, Age, Duration, Money, Range). Layout in ``fhir_server.search.fields``; the
representations are explained in ``dates`` and ``numbers``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir_server.search import dates, numbers
from fhir_server.search import fields as f

Index = dict[str, Any]  # the ``ix`` sub-document being built


@dataclass(frozen=True)
class EncodeContext:
    base_url: str  # our own base URL, no trailing slash: absolute references to it become relative


def unwrap(value: Any) -> Any:
    """An Extension stands for its value[x]."""
    if type(value) is dict and "url" in value and "extension" not in value:
        for key, inner in value.items():
            if key.startswith("value"):
                return inner
    return value


def put_sort_keys(ix: Index, code: str, keys: list[Any]) -> None:
    if keys:
        ix[code + f.SORT_ASC] = min(keys)
        ix[code + f.SORT_DESC] = max(keys)


# ----- date --------------------------------------------------------------------------------------------


def date_bounds(value: Any) -> tuple[datetime, datetime] | None:
    """[low, high] of a date, dateTime, instant, Period or Timing value."""
    value = unwrap(value)
    if type(value) is str:
        parsed = dates.parse_range(value)
        return (parsed.low, parsed.high) if parsed else None
    if type(value) is not dict:
        return None
    if "start" in value or "end" in value:  # Period: a missing bound is open
        start = dates.parse_range(value["start"]) if type(value.get("start")) is str else None
        end = dates.parse_range(value["end"]) if type(value.get("end")) is str else None
        if start is None and end is None:
            return None
        return (start.low if start else dates.MIN_DATE, end.high if end else dates.MAX_DATE)
    if "event" in value or "repeat" in value:  # Timing: from the earliest event to the latest
        bounds: list[tuple[datetime, datetime]] = []
        for event in value.get("event", ()):
            found = date_bounds(event)
            if found:
                bounds.append(found)
        repeat = value.get("repeat")
        if type(repeat) is dict and type(repeat.get("boundsPeriod")) is dict:
            found = date_bounds(repeat["boundsPeriod"])
            if found:
                bounds.append(found)
        if not bounds:
            return None
        return (min(b[0] for b in bounds), max(b[1] for b in bounds))
    return None


def encode_date(code: str, values: list[Any], ix: Index, ctx: EncodeContext) -> None:
    ranges = [b for b in (date_bounds(v) for v in values) if b is not None]
    if not ranges:
        return
    unit_entries: set[str] = set()
    for low, high in ranges:
        unit_entries.update(dates.units(low, high))
    ix[code] = list(unit_entries) or ["*"]  # "*": has a value, contained in no calendar unit
    ix[code + f.LOW] = [r[0] for r in ranges]
    ix[code + f.HIGH] = [r[1] for r in ranges]
    ix[code + f.RESIDUAL] = [{"l": low, "h": high} for low, high in ranges]
    ix[code + f.SORT_ASC] = min(r[0] for r in ranges)
    ix[code + f.SORT_DESC] = max(r[1] for r in ranges)


# ----- number and quantity ---------------------------------------------------------------------------


@dataclass
class Amount:
    low: float
    high: float
    tokens: list[str]
    units: list[str]


def unit_tokens(system: Any, code: Any, unit: Any) -> list[str]:
    """``system|code`` plus ``|code`` and ``|unit`` (a query ``5||mg`` matches code or unit)."""
    out: list[str] = []
    if type(code) is str and code:
        if type(system) is str and system:
            out.append(f"{system}|{code}")
        out.append("|" + code)
    if type(unit) is str and unit and unit != code:
        out.append("|" + unit)
    return out


def amount_of(value: Any) -> Amount | None:
    value = unwrap(value)
    if type(value) in (int, float, Decimal):
        number = numbers.to_decimal(value)
        if number is None:
            return None
        return Amount(float(number), float(number), list(numbers.value_tokens(number)), [])
    if type(value) is not dict:
        return None
    if "low" in value or "high" in value:  # Range: no equality tokens, bounds only
        low = numbers.to_decimal((value.get("low") or {}).get("value"))
        high = numbers.to_decimal((value.get("high") or {}).get("value"))
        if low is None and high is None:
            return None
        source = value.get("low") or value.get("high") or {}
        units = unit_tokens(source.get("system"), source.get("code"), source.get("unit"))
        return Amount(
            float(low) if low is not None else float("-inf"),
            float(high) if high is not None else float("inf"),
            [],
            units,
        )
    number = numbers.to_decimal(value.get("value"))
    if number is None:
        return None
    if "currency" in value:  # Money
        units = unit_tokens("urn:iso:std:iso:4217", value.get("currency"), None)
    else:
        units = unit_tokens(value.get("system"), value.get("code"), value.get("unit"))
    return Amount(float(number), float(number), list(numbers.value_tokens(number)), units)


def encode_number(code: str, values: list[Any], ix: Index, ctx: EncodeContext) -> None:
    amounts = [a for a in (amount_of(v) for v in values) if a is not None]
    if not amounts:
        return
    entries: set[str] = set()
    for amount in amounts:
        entries.update(amount.tokens)
        entries.update(f"{t}#{u}" for t in amount.tokens for u in amount.units)
        entries.update(f.TAG_UNIT + u for u in amount.units)
    ix[code] = list(entries) or ["*"]
    ix[code + f.LOW] = [a.low for a in amounts]
    ix[code + f.HIGH] = [a.high for a in amounts]
    ix[code + f.RESIDUAL] = [{"l": a.low, "h": a.high, "u": a.units} for a in amounts]
    ix[code + f.SORT_ASC] = min(a.low for a in amounts)
    ix[code + f.SORT_DESC] = max(a.high for a in amounts)
