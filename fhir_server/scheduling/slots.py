"""Slots follow the appointments that hold them: busy while held, free again once released.

A slot is taken under a claim (``slot:<id>``) and with an optimistic-version update, so two
transactions booking the same slot cannot both commit: the loser retries and finds it busy.
The Slot's change is a *consequence* of the Appointment write: made by the server's rules
(``WriteContext.consequence``), whoever booked.
"""

from __future__ import annotations

from typing import Final

from fhir_server.errors import Conflict, Unprocessable
from fhir_server.scheduling.statuses import BLOCKING
from fhir_server.services import Services
from fhir_server.store.repository import WriteContext

FREE: Final = "free"
BUSY: Final = "busy"


class SlotKeeper:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.repository = services.repository

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
