"""What the booking rules read from an Appointment: its interval, its participants, its slots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from fhir_server.errors import Unprocessable
from fhir_server.scheduling.statuses import PROPOSED, holds_time
from fhir_server.store.references import reference_key

# Participant types that can be in one place at a time. A PractitionerRole is resolved to its
# Practitioner by the hook, so booking "Dr X" through either reference conflicts.
EXCLUSIVE_ACTOR_TYPES: Final = frozenset({"Practitioner", "PractitionerRole", "Patient", "Location"})
DECLINED: Final = "declined"


@dataclass(frozen=True)
class Interval:
    """A half-open [start, end) span in UTC: touching intervals do not overlap."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class BookingFacts:
    """An appointment as the booking rules see it; ``interval`` is None when it holds no time."""

    status: str | None
    interval: Interval | None
    actors: frozenset[str]  # "Practitioner/1", "PractitionerRole/2", "Patient/3", "Location/4"
    slots: frozenset[str]  # Slot ids


def parse_moment(value: Any, *, field: str) -> datetime:
    """A FHIR instant as an aware UTC datetime (no zone given: UTC); 422 when unreadable."""
    if not isinstance(value, str):
        raise Unprocessable(f"Appointment.{field} must be an instant", (f"Appointment.{field}",))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unprocessable(
            f"Appointment.{field} '{value}' is not a valid instant", (f"Appointment.{field}",)
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _interval(appointment: dict[str, Any]) -> Interval | None:
    start, end = appointment.get("start"), appointment.get("end")
    if start is None and end is None and appointment.get("status") == PROPOSED:
        return None  # a proposal without a time yet (FHIR invariant app-3 allows it) holds nothing
    if start is None or end is None:
        raise Unprocessable(
            f"an appointment with status '{appointment.get('status')}' needs both start and end",
            ("Appointment.start", "Appointment.end"),
        )
    interval = Interval(parse_moment(start, field="start"), parse_moment(end, field="end"))
    if interval.end <= interval.start:
        raise Unprocessable("Appointment.end must be after Appointment.start", ("Appointment.end",))
    return interval


def participant_actors(appointment: dict[str, Any], base_url: str) -> frozenset[str]:
    """Local references of exclusive participants who have not declined."""
    actors = set()
    for participant in appointment.get("participant") or []:
        if participant.get("status") == DECLINED:
            continue
        reference = (participant.get("actor") or {}).get("reference")
        key = reference_key(reference, base_url) if isinstance(reference, str) else None
        if key is not None and key.split("/", 1)[0] in EXCLUSIVE_ACTOR_TYPES:
            actors.add(key)
    return frozenset(actors)


def slot_ids(appointment: dict[str, Any], base_url: str) -> frozenset[str]:
    ids = set()
    for slot in appointment.get("slot") or []:
        reference = slot.get("reference")
        key = reference_key(reference, base_url) if isinstance(reference, str) else None
        if key is not None and key.startswith("Slot/"):
            ids.add(key.removeprefix("Slot/"))
    return frozenset(ids)


def booking_facts(appointment: dict[str, Any] | None, base_url: str) -> BookingFacts:
    """The facts of one appointment version (None, a deletion, holds nothing). 422 for a time-holding
    appointment without a valid [start, end)."""
    if appointment is None:
        return BookingFacts(None, None, frozenset(), frozenset())
    status = appointment.get("status")
    interval = _interval(appointment) if holds_time(status) else None
    return BookingFacts(
        status=status if isinstance(status, str) else None,
        interval=interval,
        actors=participant_actors(appointment, base_url) if interval else frozenset(),
        slots=slot_ids(appointment, base_url) if interval else frozenset(),
    )
