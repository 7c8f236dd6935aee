"""Slots follow the appointments that hold them: busy while held, free again once released.

A slot is taken under a claim (``slot:<id>``) and with an optimistic-version update, so two
transactions booking the same slot cannot both commit: the loser retries and finds it busy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fhir_server.errors import Conflict, Unprocessable
from fhir_server.scheduling.statuses import BLOCKING
from fhir_server.store import documents as f
from fhir_server.store.repository import ResourceRepository, Session

FREE: Final = "free"
BUSY: Final = "busy"

# Decides whether the conflict message may name the holding appointment.
MayName = Callable[[dict[str, Any] | None], bool]


class SlotKeeper:
    def __init__(self, repository: ResourceRepository, may_name: MayName) -> None:
        self.repository = repository
        self.may_name = may_name

    async def holder(self, *, slot_id: str, exclude: str, session: Session) -> dict[str, Any] | None:
        """Another time-holding appointment that references this slot, if any."""
        doc = await self.repository.collection("Appointment").find_one(
            {
                f.REFERENCES: f"Slot/{slot_id}",
                f.DELETED: {"$ne": True},
                f"{f.RESOURCE}.status": {"$in": sorted(BLOCKING)},
                f.ID: {"$ne": exclude},
            },
            {f.RESOURCE: 1},
            session=session,
        )
        return None if doc is None else doc[f.RESOURCE]

    async def take(self, *, slot_id: str, appointment_id: str, session: Session) -> None:
        """Mark a free slot busy for this appointment; 422 when unknown, 409 when not free."""
        await self.repository.claim(f"slot:{slot_id}", session)
        stored = await self.repository.current(resource_type="Slot", resource_id=slot_id, session=session)
        if stored is None or stored.resource is None:
            raise Unprocessable(f"Appointment.slot: Slot/{slot_id} is not known", ("Appointment.slot",))
        status = stored.resource.get("status")
        if status != FREE:
            holder = await self.holder(slot_id=slot_id, exclude=appointment_id, session=session)
            named = f" (held by Appointment/{holder['id']})" if holder and self.may_name(holder) else ""
            raise Conflict(
                f"Slot/{slot_id} is not free: its status is '{status}'{named}", ("Appointment.slot",)
            )
        await self.repository.update(
            resource_type="Slot",
            resource_id=slot_id,
            resource={**stored.resource, "status": BUSY},
            expected_version=stored.version,
            session=session,
        )

    async def release(self, *, slot_id: str, appointment_id: str, session: Session) -> None:
        """Free a busy slot this appointment no longer holds (unless another appointment holds it)."""
        await self.repository.claim(f"slot:{slot_id}", session)
        stored = await self.repository.current(resource_type="Slot", resource_id=slot_id, session=session)
        if stored is None or stored.resource is None or stored.resource.get("status") != BUSY:
            return
        if await self.holder(slot_id=slot_id, exclude=appointment_id, session=session) is not None:
            return
        await self.repository.update(
            resource_type="Slot",
            resource_id=slot_id,
            resource={**stored.resource, "status": FREE},
            expected_version=stored.version,
            session=session,
        )
