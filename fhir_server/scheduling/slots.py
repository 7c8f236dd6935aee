"""Slots follow the appointments that hold them: busy while held, free again once released.

A slot is taken under a claim (``slot:<id>``) and with an optimistic-version update, so two
transactions booking the same slot cannot both commit: the loser retries and finds it busy.
The Slot's change is a *consequence* of the Appointment write: made by the server's rules
(``WriteContext.consequence``), whoever booked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from fhir_server.errors import Conflict, Unprocessable
from fhir_server.scheduling.appointments import Interval, parse_moment
from fhir_server.scheduling.statuses import BLOCKING
from fhir_server.services import Services
from fhir_server.store.ledgers import BookingLedger
from fhir_server.store.repository import StoredResource, WriteContext, instant

FREE: Final = "free"
BUSY: Final = "busy"


class SlotKeeper:
    def __init__(self, services: Services, ledger: BookingLedger) -> None:
        self.services = services
        self.repository = services.repository
        self.ledger = ledger

    async def holder(self, *, slot_id: str, exclude: str, wctx: WriteContext) -> str | None:
        """Another time-holding appointment that references this slot, if any."""
        ids = await self.services.search.find_ids(
            resource_type="Appointment",
            params=[("slot", f"Slot/{slot_id}"), ("status", ",".join(sorted(BLOCKING)))],
            limit=2,
            session=wctx.session,
        )
        others = [appointment_id for appointment_id in ids if appointment_id != exclude]
        return others[0] if others else None

    async def take(self, *, slot_id: str, appointment_id: str, wctx: WriteContext) -> None:
        """Mark a free slot busy for this appointment; 422 when unknown, 409 when not free."""
        await self.repository.claim(f"slot:{slot_id}", wctx.session)
        stored = await self.repository.current(
            resource_type="Slot", resource_id=slot_id, session=wctx.session
        )
        if stored is None or stored.resource is None:
            raise Unprocessable(f"Appointment.slot: Slot/{slot_id} is not known", ("Appointment.slot",))
        status = stored.resource.get("status")
        if status != FREE:
            holder = await self.holder(slot_id=slot_id, exclude=appointment_id, wctx=wctx)
            named = ""
            if holder is not None:
                held = await self.repository.current(
                    resource_type="Appointment", resource_id=holder, session=wctx.session
                )
                writer = wctx.cause or wctx.ctx
                if (
                    held is not None
                    and held.resource is not None
                    and self.services.guard.can_see(writer, held.resource)
                ):
                    named = f" (held by Appointment/{holder})"
            raise Conflict(
                f"Slot/{slot_id} is not free: its status is '{status}'{named}", ("Appointment.slot",)
            )
        await self.repository.replace(
            existing=stored,
            resource_type="Slot",
            resource_id=slot_id,
            resource={**stored.resource, "status": BUSY},
            expected_version=stored.version,
            wctx=wctx.consequence(),
        )

    async def release(self, *, slot_id: str, appointment_id: str, wctx: WriteContext) -> None:
        """Free a busy slot this appointment no longer holds (unless another appointment holds it)."""
        await self.repository.claim(f"slot:{slot_id}", wctx.session)
        stored = await self.repository.current(
            resource_type="Slot", resource_id=slot_id, session=wctx.session
        )
        if stored is None or stored.resource is None or stored.resource.get("status") != BUSY:
            return
        if await self.holder(slot_id=slot_id, exclude=appointment_id, wctx=wctx) is not None:
            return
        await self.repository.replace(
            existing=stored,
            resource_type="Slot",
            resource_id=slot_id,
            resource={**stored.resource, "status": FREE},
            expected_version=stored.version,
            wctx=wctx.consequence(),
        )

    async def follow(
        self,
        *,
        appointment_id: str,
        actors: frozenset[str],
        held: Interval | None,
        released: Interval | None,
        wctx: WriteContext,
    ) -> None:
        """Keep the actors' own Slots in step with time booked without them: a free Slot of an
        actor's Schedule turns busy while an appointment holds that actor's time over it, and free
        again once nothing holds it (its own appointments, or another booking of the actor)."""
        for schedule_id in await self._schedules_of(actors, wctx):
            if released is not None:
                for slot in await self._slots(schedule_id, released, BUSY, wctx):
                    still_held = (
                        held is not None and slot.resource is not None and _slot_overlaps(slot.resource, held)
                    )
                    if not still_held and not await self._held_elsewhere(slot, appointment_id, actors, wctx):
                        await self._set_status(slot, FREE, wctx)
            if held is not None:
                for slot in await self._slots(schedule_id, held, FREE, wctx):
                    await self._set_status(slot, BUSY, wctx)

    async def _schedules_of(self, actors: frozenset[str], wctx: WriteContext) -> list[str]:
        found: list[str] = []
        for actor in sorted(actors):
            found += await self.services.search.find_ids(
                resource_type="Schedule", params=[("actor", actor)], limit=100, session=wctx.session
            )
        return sorted(set(found))

    async def _slots(
        self, schedule_id: str, interval: Interval, status: str, wctx: WriteContext
    ) -> list[StoredResource]:
        """Slots of the schedule with this status overlapping the interval (a day of slack on start:
        Slot has no ``end`` search parameter)."""
        params = [
            ("schedule", f"Schedule/{schedule_id}"),
            ("status", status),
            ("start", f"lt{instant(interval.end)}"),
            ("start", f"ge{instant(interval.start - timedelta(days=1))}"),
        ]
        ids = await self.services.search.find_ids(
            resource_type="Slot", params=params, limit=500, session=wctx.session
        )
        stored = await self.repository.read_many(resource_type="Slot", resource_ids=ids, session=wctx.session)
        return [
            slot for slot in stored if slot.resource is not None and _slot_overlaps(slot.resource, interval)
        ]

    async def _held_elsewhere(
        self, slot: StoredResource, appointment_id: str, actors: frozenset[str], wctx: WriteContext
    ) -> bool:
        if await self.holder(slot_id=slot.id, exclude=appointment_id, wctx=wctx) is not None:
            return True
        assert slot.resource is not None
        span = Interval(
            parse_moment(slot.resource["start"], field="start"),
            parse_moment(slot.resource["end"], field="end"),
        )
        for actor in sorted(actors):
            if await self.ledger.overlapping(
                actor=actor, start=span.start, end=span.end, exclude=appointment_id, session=wctx.session
            ):
                return True
        return False

    async def _set_status(self, slot: StoredResource, status: str, wctx: WriteContext) -> None:
        assert slot.resource is not None
        await self.repository.claim(f"slot:{slot.id}", wctx.session)
        await self.repository.replace(
            existing=slot,
            resource_type="Slot",
            resource_id=slot.id,
            resource={**slot.resource, "status": status},
            expected_version=slot.version,
            wctx=wctx.consequence(),
        )


def _slot_overlaps(slot: dict[str, Any], interval: Interval) -> bool:
    try:
        start = parse_moment(slot.get("start"), field="start")
        end = parse_moment(slot.get("end"), field="end")
    except Unprocessable:
        return False
    return start < interval.end and interval.start < end
