"""Parsing FHIR date, dateTime and instant values into UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fhir_server.errors import BadRequest

_PARTIAL = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")


def parse_instant(value: str, *, name: str) -> datetime:
    """The earliest moment a FHIR date/dateTime/instant denotes, in UTC (no zone: UTC)."""
    text = value.strip()
    if not text.isascii():
        raise BadRequest(f"{name}: '{value}' is not a valid FHIR date or instant", (name,))
    partial = _PARTIAL.match(text)
    try:
        if partial:
            year, month, day = partial.groups()
            return datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: '{value}' is not a valid FHIR date or instant", (name,)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
