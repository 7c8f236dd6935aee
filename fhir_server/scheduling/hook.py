"""The booking hook: no double booking, valid status changes, slots kept in step.

It runs inside every write's transaction (POST, PUT, PATCH, transaction entries, $book,
$reschedule, $cancel all end in a repository write), so every path obeys the same rules.
Atomicity comes from claim documents: each exclusive actor's ``booking:<actor>`` claim is written
before its overlap query, so of two racing transactions booking the same actor one conflicts on
the claim and is retried from scratch, by which time it sees the winner in the ledger.
"""

from __future__ import annotations

from typing import Any

from fhir_server.errors import Conflict, Unprocessable
from fhir_server.scheduling.appointments import BookingFacts, Interval, booking_facts
from fhir_server.scheduling.availability import AvailabilityRules, Clock
from fhir_server.scheduling.slots import SlotKeeper
from fhir_server.scheduling.statuses import check_transition
from fhir_server.services import Services
from fhir_server.store.ledgers import BookingLedger
from fhir_server.store.references import reference_key
from fhir_server.store.repository import Change, WriteContext


class BookingConflict(Conflict):
    """409: the appointment overlaps another one holding the same participant's time."""

    def __init__(self, diagnostics: str, *, conflicting: tuple[str, ...]) -> None:
        super().__init__(diagnostics, ("Appointment.participant",))
        self.conflicting = conflicting  # ids, for callers that may act on them; not always named


class BookingRules:
    """A repository WriteHook for Appointments."""

    def __init__(self, services: Services, clock: Clock) -> None:
        self.services = services
        self.repository = services.repository
        self.base_url = services.settings.base_url
        self.ledger = BookingLedger(services.repository.db)
        self.slots = SlotKeeper(services, self.ledger)
        self.availability = AvailabilityRules(services, clock)

    async def __call__(self, wctx: WriteContext, change: Change) -> None:
        if change.resource_type != "Appointment":
            return
        previous, current = change.previous, change.current
        if current is not None:
            check_transition(_status(previous), _status(current))
        before = _lenient_facts(previous, self.base_url)
        after = booking_facts(current, self.base_url)
        await self.availability.check(before, after, wctx)
        actors = await self._resolve_roles(after.actors, wctx)
        if after.interval is not None:
            await self._check_free(change.resource_id, actors, after.interval, wctx)
        await self._move_slots(change.resource_id, before, after, wctx)
        interval = (after.interval.start, after.interval.end) if after.interval is not None else None
        await self.ledger.replace(
            appointment_id=change.resource_id, actors=actors, interval=interval, session=wctx.session
        )
        if before.interval != after.interval or before.actors != after.actors:
            await self.slots.follow(
                appointment_id=change.resource_id,
                actors=after.actors | before.actors | actors,
                held=after.interval,
                released=before.interval,
                wctx=wctx,
            )

    async def _resolve_roles(self, actors: frozenset[str], wctx: WriteContext) -> frozenset[str]:
        """PractitionerRole/x stands for its practitioner when it names one (read in this transaction)."""
        resolved = set()
        for actor in actors:
            kind, _, role_id = actor.partition("/")
            if kind != "PractitionerRole":
                resolved.add(actor)
                continue
            role = await self.repository.current(
                resource_type="PractitionerRole", resource_id=role_id, session=wctx.session
            )
            reference = ((role.resource or {}).get("practitioner") or {}).get("reference") if role else None
            practitioner = reference_key(reference, self.base_url) if isinstance(reference, str) else None
            resolved.add(practitioner or actor)
        return frozenset(resolved)

    async def _check_free(
        self, appointment_id: str, actors: frozenset[str], interval: Interval, wctx: WriteContext
    ) -> None:
        # Claims in a fixed order, so transactions booking the same actors meet on the first one.
        for actor in sorted(actors):
            await self.repository.claim(f"booking:{actor}", wctx.session)
        for actor in sorted(actors):
            clashes = await self.ledger.overlapping(
                actor=actor,
                start=interval.start,
                end=interval.end,
                exclude=appointment_id,
                session=wctx.session,
            )
            if clashes:
                await self._refuse(actor, clashes, wctx)

    async def _refuse(self, actor: str, appointment_ids: list[str], wctx: WriteContext) -> None:
        """409 naming the participant (the writer named it in its own appointment; a caller confined
        to a patient may name no other) and the other appointments only when the writer may see them."""
        stored = await self.repository.read_many(
            resource_type="Appointment", resource_ids=appointment_ids, session=wctx.session
        )
        writer = wctx.cause or wctx.ctx
        named = sorted(
            f"Appointment/{s.id}"
            for s in stored
            if s.resource is not None and self.services.guard.can_see(writer, s.resource)
        )
        which = f": it overlaps {', '.join(named)}" if named else ""
        raise BookingConflict(
            f"{actor} is already booked at that time{which}", conflicting=tuple(appointment_ids)
        )

    async def _move_slots(
        self, appointment_id: str, before: BookingFacts, after: BookingFacts, wctx: WriteContext
    ) -> None:
        for slot_id in sorted(before.slots - after.slots):
            await self.slots.release(slot_id=slot_id, appointment_id=appointment_id, wctx=wctx)
        for slot_id in sorted(after.slots - before.slots):
            await self.slots.take(slot_id=slot_id, appointment_id=appointment_id, wctx=wctx)


def _status(resource: dict[str, Any] | None) -> str | None:
    status = None if resource is None else resource.get("status")
    return status if isinstance(status, str) else None


def _lenient_facts(previous: dict[str, Any] | None, base_url: str) -> BookingFacts:
    """The replaced version's facts; a stored version that breaks today's rules held nothing."""
    try:
        return booking_facts(previous, base_url)
    except Unprocessable:
        return BookingFacts(None, None, frozenset(), frozenset())
