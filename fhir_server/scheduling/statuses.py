"""Appointment statuses: which ones hold time, and which changes between them are allowed.

Time-holding ("blocking") statuses take part in the no-double-booking rule. ``fulfilled`` keeps
holding its time: the appointment took place, so a second one in the same interval for the same
practitioner, patient or room would record someone in two places at once (an appointment that
ended early is corrected by updating its ``end``). ``waitlist`` holds no time (it is a wish, not a
booking), nor do ``cancelled``, ``noshow`` and ``entered-in-error``.
"""

from __future__ import annotations

from typing import Final

from fhir_server.errors import Unprocessable

PROPOSED: Final = "proposed"
PENDING: Final = "pending"
BOOKED: Final = "booked"
ARRIVED: Final = "arrived"
CHECKED_IN: Final = "checked-in"
FULFILLED: Final = "fulfilled"
CANCELLED: Final = "cancelled"
NOSHOW: Final = "noshow"
ENTERED_IN_ERROR: Final = "entered-in-error"
WAITLIST: Final = "waitlist"

# The workflow's live statuses: the appointment is still going to happen.
ACTIVE: Final = frozenset({PROPOSED, PENDING, BOOKED, ARRIVED, CHECKED_IN})
# Statuses that hold their [start, end) interval for every participant.
BLOCKING: Final = ACTIVE | {FULFILLED}

_ENDINGS: Final = frozenset({CANCELLED, NOSHOW, ENTERED_IN_ERROR})

# from -> allowed targets (staying in the same status is always allowed: details may change).
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    PROPOSED: frozenset({PENDING, BOOKED, WAITLIST}) | _ENDINGS,
    PENDING: frozenset({BOOKED, WAITLIST}) | _ENDINGS,
    BOOKED: frozenset({ARRIVED, CHECKED_IN, FULFILLED}) | _ENDINGS,
    ARRIVED: frozenset({CHECKED_IN, FULFILLED}) | _ENDINGS,
    CHECKED_IN: frozenset({FULFILLED}) | _ENDINGS,
    WAITLIST: frozenset({PROPOSED, PENDING, BOOKED, CANCELLED, ENTERED_IN_ERROR}),
    # A patient marked as no-show who turns up late after all.
    NOSHOW: frozenset({ARRIVED, ENTERED_IN_ERROR}),
    FULFILLED: frozenset({ENTERED_IN_ERROR}),
    CANCELLED: frozenset({ENTERED_IN_ERROR}),
    ENTERED_IN_ERROR: frozenset(),
}


def holds_time(status: str | None) -> bool:
    return status in BLOCKING


def check_transition(previous: str | None, current: str | None) -> None:
    """422 unless an appointment may go from ``previous`` to ``current`` (a create may start anywhere)."""
    if previous is None or previous == current:
        return
    allowed = TRANSITIONS.get(previous)
    if allowed is None or current in allowed:
        return  # an unknown stored status (legacy data) does not lock the appointment
    choices = ", ".join(sorted(allowed)) or "none (it is final)"
    raise Unprocessable(
        f"an appointment's status may not change from '{previous}' to '{current}'; "
        f"allowed from '{previous}': {choices}",
        ("Appointment.status",),
    )
