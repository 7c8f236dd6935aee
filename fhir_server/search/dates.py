"""FHIR dates as ranges: every date, dateTime, instant, Period and Timing becomes [low, high].

A value's precision implies its range ("2020-06" is all of June 2020, "10:30:00" is a whole second).
Values without a time zone are read as UTC; time zones are honoured otherwise.

Besides the bounds, a value gets the *calendar units* that fully contain it: "2020", "2020-06",
"2020-06-15", "2020-06-15T10:30", "2020-06-15T10:30:45" and, for a point in time,
"2020-06-15T10:30:45.123" (all UTC). A search ``eq`` (the search range contains the value's range)
is then one equality on an index entry, exact even when a resource has several dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MIN_DATE = datetime(1, 1, 1, tzinfo=UTC)
MAX_DATE = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$",
    re.ASCII,
)

YEAR, MONTH, DAY, MINUTE, SECOND, MILLI = range(6)


@dataclass(frozen=True)
class DateRange:
    low: datetime
    high: datetime
    precision: int  # YEAR ... MILLI of the text it came from


def _end(start: datetime, precision: int) -> datetime:
    """Last millisecond of the unit of ``precision`` starting at ``start`` (naive arithmetic, UTC)."""
    if precision == YEAR:
        if start.year == 9999:
            return MAX_DATE
        return start.replace(year=start.year + 1) - _MS
    if precision == MONTH:
        if start.month == 12:
            if start.year == 9999:
                return MAX_DATE
            return start.replace(year=start.year + 1, month=1) - _MS
        return start.replace(month=start.month + 1) - _MS
    if precision == DAY:
        return start + timedelta(days=1) - _MS
    if precision == MINUTE:
        return start + timedelta(minutes=1) - _MS
    if precision == SECOND:
        return start + timedelta(seconds=1) - _MS
    return start


def parse_range(text: str) -> DateRange | None:
    """The range a FHIR date/dateTime/instant text denotes (None when it is not one)."""
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        if hour is None:
            precision = DAY if day else MONTH if month else YEAR
            start = datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
            return DateRange(start, _end(start, precision), precision)
        millis = int((fraction or "0")[:3].ljust(3, "0"))
        start = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            millis * 1000,
            tzinfo=UTC,
        )
    except ValueError:
        return None
    precision = MILLI if fraction else SECOND if second else MINUTE
    end = _end(start, precision)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
        try:
            start, end = start - offset, end - offset
        except OverflowError:
            return None
    return DateRange(start, end, precision)


def units(low: datetime, high: datetime) -> list[str]:
    """Calendar units (UTC) that fully contain [low, high], coarsest first."""
    out: list[str] = []
    starts = (
        low.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
        low.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        low.replace(hour=0, minute=0, second=0, microsecond=0),
        low.replace(second=0, microsecond=0),
        low.replace(microsecond=0),
    )
    for precision, start in enumerate(starts):
        if high > _end(start, precision):
            break
        out.append(_format(start, precision))
    if low == high:
        out.append(point_unit(low))
    return out


def unit_of(query: DateRange) -> str:
    """The unit string a query range corresponds to (its own precision, in UTC)."""
    if query.precision == MILLI:
        return point_unit(query.low)
    return _format(query.low, query.precision)


def point_unit(moment: datetime) -> str:
    return f"{_format(moment, SECOND)}.{moment.microsecond // 1000:03d}"


def _format(moment: datetime, precision: int) -> str:
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}"
        f":{moment.second:02d}"
    )
    return text[: (4, 7, 10, 16, 19)[precision]]


def as_utc(moment: datetime) -> datetime:
    """Datetimes read back from MongoDB may be naive (UTC) or aware, depending on the client."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
