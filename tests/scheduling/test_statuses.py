"""The appointment status table: which changes are allowed, which statuses hold time."""

from __future__ import annotations

import pytest

from fhir_server.errors import Unprocessable
from fhir_server.scheduling.statuses import BLOCKING, TRANSITIONS, check_transition, holds_time

ALLOWED = [
    ("proposed", "pending"),
    ("proposed", "booked"),
    ("pending", "booked"),
    ("booked", "arrived"),
    ("booked", "checked-in"),
    ("arrived", "checked-in"),
    ("arrived", "fulfilled"),
    ("checked-in", "fulfilled"),
    ("booked", "fulfilled"),
    ("waitlist", "booked"),
    ("pending", "waitlist"),
    ("noshow", "arrived"),
    ("fulfilled", "entered-in-error"),
    ("cancelled", "entered-in-error"),
    *[(active, ending) for active in ("proposed", "pending", "booked", "arrived", "checked-in")
      for ending in ("cancelled", "noshow", "entered-in-error")],
]  # fmt: skip

REFUSED = [
    ("booked", "proposed"),
    ("booked", "pending"),
    ("arrived", "booked"),
    ("checked-in", "arrived"),
    ("fulfilled", "booked"),
    ("fulfilled", "cancelled"),
    ("cancelled", "booked"),
    ("noshow", "booked"),
    ("entered-in-error", "booked"),
    ("waitlist", "fulfilled"),
    ("proposed", "fulfilled"),
]


@pytest.mark.parametrize(("before", "after"), ALLOWED)
def test_allowed_transitions_pass(before: str, after: str) -> None:
    check_transition(before, after)
    assert after in TRANSITIONS[before]


@pytest.mark.parametrize(("before", "after"), REFUSED)
def test_refused_transitions_name_both_statuses(before: str, after: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        check_transition(before, after)
    assert f"from '{before}' to '{after}'" in raised.value.diagnostics


def test_same_status_and_creation_are_always_allowed() -> None:
    for status in TRANSITIONS:
        check_transition(status, status)
        check_transition(None, status)


def test_entered_in_error_is_final() -> None:
    with pytest.raises(Unprocessable, match="none"):
        check_transition("entered-in-error", "cancelled")


def test_time_holding_statuses() -> None:
    assert {"proposed", "pending", "booked", "arrived", "checked-in", "fulfilled"} == BLOCKING
    for status in ("waitlist", "cancelled", "noshow", "entered-in-error", None):
        assert not holds_time(status)
