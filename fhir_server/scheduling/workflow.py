"""Booking, cancelling and rescheduling as service functions (the $book/$cancel/$reschedule
operations call them). Each is one transaction made of ordinary interactions, so the booking hook,
the access gate and the write checks apply exactly as for a plain create or update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.interactions import crud
from fhir_server.scheduling.appointments import parse_moment
from fhir_server.scheduling.statuses import ACTIVE, BOOKED, CANCELLED, PENDING, PROPOSED, WAITLIST
from fhir_server.services import Services
from fhir_server.store.repository import Session, WriteResult

RESCHEDULABLE: Final = frozenset({PROPOSED, PENDING, BOOKED, WAITLIST})
ACCEPTED: Final = "accepted"


def _participants(existing: list[dict[str, Any]], references: list[str]) -> list[dict[str, Any]]:
    """``existing`` plus an accepted participant for each reference not already among them."""
    present = {(p.get("actor") or {}).get("reference") for p in existing}
    added = [{"actor": {"reference": ref}, "status": ACCEPTED} for ref in references if ref not in present]
    return [*existing, *added]


async def _run(
    services: Services, session: Session | None, work: Callable[[Session], Awaitable[WriteResult]]
) -> WriteResult:
    """Run ``work`` in the caller's transaction, or in a new one once the collections it touches
    have their indexes (those cannot be built inside a transaction)."""
    if session is None:
        await services.repository.ensure_collections(["Appointment", "Slot", "Schedule"])
    return await services.in_transaction(session, work)


async def _read(
    services: Services, ctx: RequestContext, resource_type: str, resource_id: str, session: Session
) -> dict[str, Any]:
    stored = await crud.read(
        services=services, ctx=ctx, resource_type=resource_type, resource_id=resource_id, session=session
    )
    assert stored.resource is not None  # read raises Gone for a deletion
    return stored.resource


async def book_slot(
    *,
    services: Services,
    ctx: RequestContext,
    slot_id: str,
    patient: str | None,
    template: dict[str, Any] | None,
    session: Session | None = None,
) -> WriteResult:
    """Create an Appointment for a free Slot: its time, the schedule's actors and the patient as
    participants, the slot referenced and marked busy, all in one transaction."""
    if template is not None and template.get("resourceType") != "Appointment":
        raise BadRequest("the 'appointment' parameter must be an Appointment resource", ("appointment",))
    status = (template or {}).get("status", BOOKED)
    if status not in ACTIVE:
        raise Unprocessable(f"$book creates an active appointment, not one with status '{status}'")

    async def work(session: Session) -> WriteResult:
        slot = await _read(services, ctx, "Slot", slot_id, session)
        schedule_ref = (slot.get("schedule") or {}).get("reference", "")
        schedule = await _read(services, ctx, "Schedule", schedule_ref.rpartition("/")[2], session)
        actors = [a["reference"] for a in schedule.get("actor") or [] if isinstance(a.get("reference"), str)]
        appointment = dict(template or {})
        appointment.update(
            resourceType="Appointment",
            status=status,
            start=slot["start"],
            end=slot["end"],
            slot=[{"reference": f"Slot/{slot_id}"}],
            participant=_participants(
                list(appointment.get("participant") or []), [*actors, *([patient] if patient else [])]
            ),
        )
        if "serviceType" not in appointment and slot.get("serviceType"):
            appointment["serviceType"] = slot["serviceType"]
        return await crud.create(
            services=services, ctx=ctx, resource_type="Appointment", body=appointment, session=session
        )

    return await _run(services, session, work)


async def cancel_appointment(
    *,
    services: Services,
    ctx: RequestContext,
    appointment_id: str,
    reason: dict[str, Any] | None,
    session: Session | None = None,
) -> WriteResult:
    """Set the status to cancelled (with ``cancelationReason``); the hook frees its time and slots.
    Cancelling a cancelled appointment changes nothing (a retried request does not fail)."""

    async def work(session: Session) -> WriteResult:
        stored = await crud.read(
            services=services,
            ctx=ctx,
            resource_type="Appointment",
            resource_id=appointment_id,
            session=session,
        )
        appointment = dict(stored.resource or {})
        if appointment.get("status") == CANCELLED:
            return WriteResult(stored, created=False, changed=False)
        appointment["status"] = CANCELLED
        if reason is not None:
            appointment["cancelationReason"] = reason
        return await crud.update(
            services=services,
            ctx=ctx,
            resource_type="Appointment",
            resource_id=appointment_id,
            body=appointment,
            if_match=stored.version,
            session=session,
        )

    return await _run(services, session, work)


async def reschedule_appointment(
    *,
    services: Services,
    ctx: RequestContext,
    appointment_id: str,
    start: str | None,
    end: str | None,
    slot_id: str | None,
    session: Session | None = None,
) -> WriteResult:
    """Move an appointment to a new [start, end) or to a new slot, atomically: the old slots are
    freed and the new one taken in the same transaction, or nothing changes. Participants stay."""
    if (slot_id is None) == (start is None and end is None):
        raise BadRequest("give either a new 'slot' or a new 'start' and 'end'")
    if slot_id is None and (start is None or end is None):
        raise BadRequest("a new time needs both 'start' and 'end'")
    if start is not None and end is not None:
        parse_moment(start, field="start"), parse_moment(end, field="end")

    async def work(session: Session) -> WriteResult:
        stored = await crud.read(
            services=services,
            ctx=ctx,
            resource_type="Appointment",
            resource_id=appointment_id,
            session=session,
        )
        appointment = dict(stored.resource or {})
        if appointment.get("status") not in RESCHEDULABLE:
            raise Unprocessable(
                f"an appointment with status '{appointment.get('status')}' cannot be rescheduled",
                ("Appointment.status",),
            )
        if slot_id is not None:
            slot = await _read(services, ctx, "Slot", slot_id, session)
            appointment.update(start=slot["start"], end=slot["end"], slot=[{"reference": f"Slot/{slot_id}"}])
        else:
            appointment.update(start=start, end=end)
            appointment.pop("slot", None)  # the old slots no longer describe the time: freed
        _refresh_duration(appointment)
        return await crud.update(
            services=services,
            ctx=ctx,
            resource_type="Appointment",
            resource_id=appointment_id,
            body=appointment,
            if_match=stored.version,
            session=session,
        )

    return await _run(services, session, work)


def _refresh_duration(appointment: dict[str, Any]) -> None:
    """Keep ``minutesDuration``, when the appointment has one, in step with the new times."""
    if "minutesDuration" in appointment:
        start = parse_moment(appointment["start"], field="start")
        span = parse_moment(appointment["end"], field="end") - start
        appointment["minutesDuration"] = max(int(span.total_seconds() // 60), 1)
