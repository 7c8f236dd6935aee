"""Whether an appointment may take its time at all: not in the past, with active practitioners,
within their declared availability.

Checked by the booking hook when an appointment starts holding time or changes its time or its
participants (a note added to yesterday's booking is not refused):

* **Not in the past**: a proposed, pending or booked appointment may not start before now minus
  ``booking_past_grace_minutes``.
* **Active practitioners**: a Practitioner or PractitionerRole participant with ``active: false``
  cannot be booked.
* **Availability**, where declared: a PractitionerRole's ``availableTime`` (days and hours, in the
  clinic's time zone) and ``notAvailable`` periods; a practitioner's Schedules' ``planningHorizon``
  (the time the schedules cover). Nothing declared: nothing to check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from fhir_server.errors import Unprocessable
from fhir_server.fhirdates import parse_instant
from fhir_server.scheduling.appointments import BookingFacts, Interval
from fhir_server.scheduling.statuses import BOOKED, PENDING, PROPOSED
from fhir_server.services import Services
from fhir_server.store.repository import WriteContext

FUTURE_STATUSES: Final = frozenset({PROPOSED, PENDING, BOOKED})
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRACTITIONER_TYPES: Final = frozenset({"Practitioner", "PractitionerRole"})

Clock = Callable[[], datetime]


def _refused(message: str) -> Unprocessable:
    return Unprocessable(message, ("Appointment.participant",))


def changes_time(before: BookingFacts, after: BookingFacts) -> bool:
    """Whether the write takes time it did not hold: new, moved, or with new participants."""
    return after.interval is not None and (
        before.interval != after.interval or not after.actors <= before.actors
    )


class AvailabilityRules:
    def __init__(self, services: Services, clock: Clock) -> None:
        self._services = services
        self._clock = clock
        settings = services.settings
        self._grace = timedelta(minutes=settings.booking_past_grace_minutes)
        self._zone = ZoneInfo(settings.clinic_timezone)

    async def check(self, before: BookingFacts, after: BookingFacts, wctx: WriteContext) -> None:
        if not changes_time(before, after):
            return
        interval = after.interval
        assert interval is not None
        if after.status in FUTURE_STATUSES and interval.start < self._clock() - self._grace:
            raise Unprocessable(
                f"an appointment cannot be {after.status} in the past (it starts before now)",
                ("Appointment.start",),
            )
        for actor in sorted(after.actors - before.actors if before.interval == interval else after.actors):
            if actor.split("/", 1)[0] in PRACTITIONER_TYPES:
                await self._check_practitioner(actor, interval, wctx)

    async def _current(self, reference: str, wctx: WriteContext) -> dict[str, Any] | None:
        resource_type, _, resource_id = reference.partition("/")
        stored = await self._services.repository.current(
            resource_type=resource_type, resource_id=resource_id, session=wctx.session
        )
        return stored.resource if stored is not None else None

    async def _check_practitioner(self, actor: str, interval: Interval, wctx: WriteContext) -> None:
        resource = await self._current(actor, wctx)
        if resource is None:
            return  # booking someone the server does not know is the references' business
        if resource.get("active") is False:
            raise _refused(f"{actor} is not active and cannot be booked")
        roles = [resource] if actor.startswith("PractitionerRole/") else await self._roles_of(actor, wctx)
        if actor.startswith("PractitionerRole/"):
            practitioner = (resource.get("practitioner") or {}).get("reference")
            if isinstance(practitioner, str) and practitioner.startswith("Practitioner/"):
                held = await self._current(practitioner, wctx)
                if held is not None and held.get("active") is False:
                    raise _refused(f"{practitioner} is not active and cannot be booked")
        declared = [role for role in roles if role.get("availableTime")]
        if declared and not any(self._available(role, interval) for role in declared):
            raise _refused(f"{actor} is not available at that time (PractitionerRole.availableTime)")
        for role in roles:
            for absence in role.get("notAvailable") or []:
                if _overlaps(absence.get("during"), interval):
                    raise _refused(f"{actor} is not available at that time (PractitionerRole.notAvailable)")
        await self._check_planning_horizon(actor, interval, wctx)

    async def _roles_of(self, practitioner: str, wctx: WriteContext) -> list[dict[str, Any]]:
        search = self._services.search
        ids = await search.find_ids(
            resource_type="PractitionerRole",
            params=[("practitioner", practitioner), ("active", "true")],
            limit=50,
            session=wctx.session,
        )
        stored = await self._services.repository.read_many(
            resource_type="PractitionerRole", resource_ids=ids, session=wctx.session
        )
        return [item.resource for item in stored if item.resource is not None]

    def _available(self, role: dict[str, Any], interval: Interval) -> bool:
        """The interval lies within one of the role's available times (clinic-local days and hours)."""
        start = interval.start.astimezone(self._zone)
        end = interval.end.astimezone(self._zone)
        if start.date() != (end - timedelta(microseconds=1)).date():
            return False  # an appointment across midnight fits no daily availability
        day = WEEKDAYS[start.weekday()]
        for available in role.get("availableTime") or []:
            if day not in (available.get("daysOfWeek") or WEEKDAYS):
                continue
            if available.get("allDay"):
                return True
            opens = _clock_time(available.get("availableStartTime"), time.min)
            closes = _clock_time(available.get("availableEndTime"), time.max)
            if opens <= start.time() and end.time() <= closes:
                return True
        return False

    async def _check_planning_horizon(self, actor: str, interval: Interval, wctx: WriteContext) -> None:
        search = self._services.search
        ids = await search.find_ids(
            resource_type="Schedule",
            params=[("actor", actor), ("active", "true")],
            limit=50,
            session=wctx.session,
        )
        schedules = await self._services.repository.read_many(
            resource_type="Schedule", resource_ids=ids, session=wctx.session
        )
        horizons = [
            s.resource["planningHorizon"]
            for s in schedules
            if s.resource and s.resource.get("planningHorizon")
        ]
        if horizons and not any(_within(horizon, interval) for horizon in horizons):
            raise _refused(f"{actor} has no schedule covering that time (Schedule.planningHorizon)")


def _clock_time(value: Any, default: time) -> time:
    if not isinstance(value, str):
        return default
    try:
        return time.fromisoformat(value)
    except ValueError:
        return default


def _bound(period: dict[str, Any], name: str) -> datetime | None:
    """A period's start, or its end: a date-only end lasts to the end of that day."""
    value = period.get(name)
    if not isinstance(value, str):
        return None
    moment = parse_instant(value, name=f"Period.{name}")
    return moment + timedelta(days=1) if name == "end" and len(value.strip()) == 10 else moment


def _overlaps(period: Any, interval: Interval) -> bool:
    if not isinstance(period, dict):
        return False
    start, end = _bound(period, "start"), _bound(period, "end")
    return (start is None or start < interval.end) and (end is None or interval.start < end)


def _within(period: dict[str, Any], interval: Interval) -> bool:
    start, end = _bound(period, "start"), _bound(period, "end")
    return (start is None or start <= interval.start) and (end is None or interval.end <= end)
