"""What the booking rules read from an Appointment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_server.errors import Unprocessable
from fhir_server.scheduling.appointments import booking_facts

BASE = "http://testserver/fhir"


def appointment(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2031-03-01T10:00:00+01:00",
        "end": "2031-03-01T10:30:00+01:00",
        "participant": [
            {"actor": {"reference": "Practitioner/doc"}, "status": "accepted"},
            {"actor": {"reference": f"{BASE}/Patient/pat/_history/2"}, "status": "accepted"},
            {"actor": {"reference": "Location/room"}, "status": "accepted"},
            {"actor": {"reference": "HealthcareService/hs"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/away"}, "status": "declined"},
            {"actor": {"reference": "https://elsewhere.example/Practitioner/x"}, "status": "accepted"},
            {"type": [{"text": "interpreter"}], "status": "needs-action"},
        ],
        "slot": [{"reference": "Slot/s1"}, {"reference": f"{BASE}/Slot/s2"}],
    }
    body.update(changes)
    return body


def test_interval_is_in_utc_and_actors_are_local_exclusive_and_not_declined() -> None:
    facts = booking_facts(appointment(), BASE)
    assert facts.interval is not None
    assert facts.interval.start == datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
    assert facts.interval.end == datetime(2031, 3, 1, 9, 30, tzinfo=UTC)
    assert facts.actors == {"Practitioner/doc", "Patient/pat", "Location/room"}
    assert facts.slots == {"s1", "s2"}


@pytest.mark.parametrize("status", ["waitlist", "cancelled", "noshow", "entered-in-error"])
def test_statuses_that_hold_no_time(status: str) -> None:
    facts = booking_facts(appointment(status=status), BASE)
    assert facts.interval is None
    assert facts.actors == frozenset()
    assert facts.slots == frozenset()


def test_a_proposal_without_a_time_holds_nothing() -> None:
    body = appointment(status="proposed")
    del body["start"], body["end"]
    assert booking_facts(body, BASE).interval is None


def test_a_booked_appointment_needs_start_and_end() -> None:
    body = appointment()
    del body["end"]
    with pytest.raises(Unprocessable, match="needs both start and end"):
        booking_facts(body, BASE)


@pytest.mark.parametrize("end", ["2031-03-01T10:00:00+01:00", "2031-03-01T09:00:00+01:00"])
def test_end_must_follow_start(end: str) -> None:
    with pytest.raises(Unprocessable, match="end must be after"):
        booking_facts(appointment(end=end), BASE)


def test_a_deletion_holds_nothing() -> None:
    assert booking_facts(None, BASE).interval is None
