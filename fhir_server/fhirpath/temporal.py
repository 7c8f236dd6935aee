"""Date, DateTime and Time values with precision (FHIRPath "Date/DateTime/Time" and their rules).

A value keeps the components it was given: ``@2014-01`` is a Date of month precision, and
comparing it with ``@2014-01-05`` gives no answer (empty) rather than a guess. Seconds and
milliseconds count as one precision when comparing, as the specification says.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from fhir_server.fhirpath.errors import FhirPathError

DATE, DATETIME, TIME = "Date", "DateTime", "Time"

# Component slots: year, month, day, hour, minute, second, millisecond. A Time uses slots 3..6.
YEAR, MONTH, DAY, HOUR, MINUTE, SECOND, MILLISECOND = range(7)
_MINIMUM = (1, 1, 1, 0, 0, 0, 0)

_DATE_TIME = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(T(?:(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?"
)
_TIME = re.compile(r"(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:\d{2})?")

# Calendar duration units (and their UCUM forms that FHIRPath date arithmetic accepts).
CALENDAR_UNITS: dict[str, int] = {
    "year": YEAR,
    "month": MONTH,
    "week": DAY,
    "day": DAY,
    "hour": HOUR,
    "minute": MINUTE,
    "second": SECOND,
    "millisecond": MILLISECOND,
}
UCUM_CALENDAR: dict[str, str] = {
    "wk": "week",
    "d": "day",
    "h": "hour",
    "min": "minute",
    "s": "second",
    "ms": "millisecond",
}


def _offset(text: str | None) -> int | None:
    if not text:
        return None
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    return sign * (int(text[1:3]) * 60 + int(text[4:6]))


def _millis(fraction: str | None) -> int | None:
    return None if fraction is None else int((fraction + "00")[:3])


@dataclass(frozen=True, slots=True)
class Temporal:
    """A partial date/time: ``parts`` holds the known components from ``start`` on."""

    kind: str  # Date | DateTime | Time
    parts: tuple[int, ...]
    tz: int | None = None  # offset in minutes; None when the value has none
    tz_text: str | None = None  # the offset as written ("Z", "+10:00")

    @property
    def start(self) -> int:
        return HOUR if self.kind == TIME else YEAR

    @property
    def precision(self) -> int:
        """Index of the last known component (YEAR .. MILLISECOND)."""
        return self.start + len(self.parts) - 1

    def component(self, slot: int) -> int:
        return self.parts[slot - self.start]

    def __str__(self) -> str:
        slots = dict(zip(range(self.start, self.precision + 1), self.parts, strict=True))
        text = ""
        if self.kind != TIME:
            text = f"{slots[YEAR]:04d}"
            if MONTH in slots:
                text += f"-{slots[MONTH]:02d}"
            if DAY in slots:
                text += f"-{slots[DAY]:02d}"
            if self.kind == DATETIME and HOUR in slots:
                text += "T"
        if HOUR in slots:
            text += f"{slots[HOUR]:02d}"
            if MINUTE in slots:
                text += f":{slots[MINUTE]:02d}"
            if SECOND in slots:
                text += f":{slots[SECOND]:02d}"
            if MILLISECOND in slots:
                text += f".{slots[MILLISECOND]:03d}"
            if self.tz_text:
                text += self.tz_text
        return text

    # ----- comparison ------------------------------------------------------------------------

    def _utc_parts(self) -> tuple[int, ...]:
        """Components with the offset applied (when the value has a time and an offset)."""
        if not self.tz or self.kind == TIME or self.precision < HOUR:
            return self.parts  # no offset, or UTC already
        full = list(self.parts) + list(_MINIMUM[len(self.parts) :])
        moment = _moment(full, timezone(timedelta(minutes=self.tz)))
        utc = moment.astimezone(UTC)
        values = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond // 1000)
        return values[: len(self.parts)]

    def compare(self, other: Temporal) -> int | None:
        """-1, 0 or 1; None when the precisions differ and the known components are equal."""
        if (self.kind == TIME) != (other.kind == TIME):
            raise FhirPathError("execution", f"cannot compare {self.kind} with {other.kind}")
        if (self.tz is None) != (other.tz is None) and min(self.precision, other.precision) >= HOUR:
            return None  # one has an offset, the other none: unknown
        mine, theirs = self._utc_parts(), other._utc_parts()
        # seconds and milliseconds are a single precision
        mine_sec = _seconds_precision(mine, self.start)
        theirs_sec = _seconds_precision(theirs, other.start)
        common = min(len(mine_sec), len(theirs_sec))
        for a, b in zip(mine_sec[:common], theirs_sec[:common], strict=True):
            if a != b:
                return -1 if a < b else 1
        if len(mine_sec) != len(theirs_sec):
            return None
        return 0

    def equivalent(self, other: Temporal) -> bool:
        if (self.kind == TIME) != (other.kind == TIME):
            return False
        if _seconds_len(self) != _seconds_len(other):
            return False
        try:
            return self.compare(other) == 0
        except FhirPathError:
            return False

    # ----- arithmetic ------------------------------------------------------------------------

    def add(self, amount: int, unit: str) -> Temporal:
        """This value moved by ``amount`` calendar ``unit``s (unit: year .. millisecond, week)."""
        if unit == "week":
            amount, unit = amount * 7, "day"
        slot = CALENDAR_UNITS[unit]
        if self.kind == TIME and slot < HOUR:
            raise FhirPathError("execution", f"cannot add {unit}s to a Time")
        precision = self.precision
        if slot > precision:  # finer than the value: convert down to its precision, truncating
            amount = int(_convert(amount, slot, precision))
            slot = precision
        full = list(_MINIMUM)
        full[self.start : self.start + len(self.parts)] = self.parts
        if slot == YEAR:
            full[YEAR] += amount
        elif slot == MONTH:
            months = full[YEAR] * 12 + full[MONTH] - 1 + amount
            full[YEAR], full[MONTH] = divmod(months, 12)
            full[MONTH] += 1
        if slot <= MONTH:
            full[DAY] = min(full[DAY], calendar.monthrange(full[YEAR], full[MONTH])[1])
            shifted = full
        else:
            step = {
                DAY: timedelta(days=amount),
                HOUR: timedelta(hours=amount),
                MINUTE: timedelta(minutes=amount),
                SECOND: timedelta(seconds=amount),
                MILLISECOND: timedelta(milliseconds=amount),
            }[slot]
            moment = _moment(full) + step
            shifted = [
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
                moment.minute,
                moment.second,
                moment.microsecond // 1000,
            ]
        return replace(self, parts=tuple(shifted[self.start : self.start + len(self.parts)]))

    # ----- boundaries ------------------------------------------------------------------------

    def boundary(self, digits: int | None, *, high: bool) -> Temporal | None:
        """lowBoundary/highBoundary: the earliest/latest value at ``digits`` precision."""
        target = _slot_for_digits(self.kind, digits)
        if target is None:
            return None
        full = list(_MINIMUM)
        full[self.start : self.start + len(self.parts)] = self.parts
        known = self.precision
        if self.kind == DATETIME and known == HOUR:
            known = MINUTE  # an hour alone is not a FHIR time; read T08 as 08:00
        if high:
            maxima = [9999, 12, 0, 23, 59, 59, 999]
            for slot in range(known + 1, 7):
                full[slot] = maxima[slot]
            if known < DAY:
                full[DAY] = calendar.monthrange(full[YEAR], full[MONTH])[1]
        tz, tz_text = self.tz, self.tz_text
        if self.kind == DATETIME and target >= HOUR and tz is None:
            tz, tz_text = (-720, "-12:00") if high else (840, "+14:00")
        kind = self.kind
        return Temporal(kind, tuple(full[self.start : target + 1]), tz, tz_text if target >= HOUR else None)

    def digits(self) -> int:
        """precision(): the number of digits of the value (@2014 -> 4, @T10:30 -> 4)."""
        table = _TIME_DIGITS if self.kind == TIME else _DATE_DIGITS
        return table[self.precision]


def _moment(full: list[int], tz: timezone | None = None) -> datetime:
    year, month, day, hour, minute, second, millisecond = full
    return datetime(year, month, day, hour, minute, second, millisecond * 1000, tzinfo=tz)


_DATE_DIGITS = {YEAR: 4, MONTH: 6, DAY: 8, HOUR: 10, MINUTE: 12, SECOND: 14, MILLISECOND: 17}
_TIME_DIGITS = {HOUR: 2, MINUTE: 4, SECOND: 6, MILLISECOND: 9}


def _slot_for_digits(kind: str, digits: int | None) -> int | None:
    if digits is None:
        return {DATE: DAY, DATETIME: MILLISECOND, TIME: MILLISECOND}[kind]
    table = _TIME_DIGITS if kind == TIME else _DATE_DIGITS
    for slot, count in table.items():
        if count == digits:
            if kind == DATE and slot > DAY:
                return None
            return slot
    return None


_UNIT_FACTORS = {MONTH: 12, DAY: 30, HOUR: 24, MINUTE: 60, SECOND: 60, MILLISECOND: 1000}


def _convert(amount: float, slot: int, target: int) -> float:
    """An amount in a finer unit expressed in a coarser one (months -> years ...)."""
    value = float(amount)
    for current in range(slot, target, -1):
        value /= _UNIT_FACTORS[current]
    return value


def _seconds_precision(parts: tuple[int, ...], start: int) -> tuple[float, ...]:
    """Components with seconds and milliseconds folded into one decimal second."""
    second_index = SECOND - start
    if len(parts) <= second_index:
        return tuple(parts)
    seconds = parts[second_index] + (parts[second_index + 1] / 1000 if len(parts) > second_index + 1 else 0)
    return (*parts[:second_index], seconds)


def _seconds_len(value: Temporal) -> int:
    return len(_seconds_precision(value.parts, value.start))


@lru_cache(maxsize=4096)  # values are immutable; the same dates recur across a resource's elements
def parse_date_time(text: str, *, kind: str | None = None) -> Temporal | None:
    """A FHIR date/dateTime/instant string or FHIRPath literal body (without ``@``); None if invalid.

    ``kind`` forces Date or DateTime; by default a value with a ``T`` is a DateTime.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, time_marker, hour, minute, second, fraction, tz_text = match.groups()
    if time_marker and day is None:
        return None if kind == DATE else _checked(Temporal(DATETIME, _ints(year, month), None))
    values = _ints(year, month, day, hour, minute, second)
    millis = _millis(fraction)
    if millis is not None:
        values = (*values, millis)
    is_date_time = bool(time_marker) or tz_text is not None
    if kind == DATE and (hour is not None or tz_text is not None):
        return None
    result_kind = kind or (DATETIME if is_date_time else DATE)
    if hour is None and tz_text is not None and result_kind == DATE:
        return None
    tz = _offset(tz_text)
    return _checked(Temporal(result_kind, values, tz, tz_text))


@lru_cache(maxsize=1024)
def parse_time(text: str) -> Temporal | None:
    """A FHIR time string or FHIRPath time literal body (without ``@T``); None if invalid."""
    match = _TIME.fullmatch(text)
    if match is None:
        return None
    hour, minute, second, fraction, tz_text = match.groups()
    if tz_text is not None:
        return None
    values = _ints(hour, minute, second)
    millis = _millis(fraction)
    if millis is not None:
        values = (*values, millis)
    return _checked(Temporal(TIME, values))


def _ints(*groups: str | None) -> tuple[int, ...]:
    values: list[int] = []
    for group in groups:
        if group is None:
            break
        values.append(int(group))
    return tuple(values)


_LIMITS = ((1, 9999), (1, 12), (1, 31), (0, 23), (0, 59), (0, 59), (0, 999))


def _checked(value: Temporal) -> Temporal | None:
    """The value when its components exist on the calendar and clock (None otherwise)."""
    start = value.start
    for offset, component in enumerate(value.parts):
        low, high = _LIMITS[start + offset]
        if not low <= component <= high:
            return None
    if start == YEAR and len(value.parts) > DAY:
        year, month, day = value.parts[:3]
        if day > 28 and day > calendar.monthrange(year, month)[1]:
            return None
    return value


def now(moment: datetime) -> Temporal:
    local = moment.astimezone()
    offset = local.utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    text = "Z" if minutes == 0 else f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    parts = (
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.microsecond // 1000,
    )
    return Temporal(DATETIME, parts, minutes, text)
