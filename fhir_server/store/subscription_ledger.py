"""Delivery state of subscriptions: a state document per Subscription, its event counter and its
numbered events.

The change-stream watcher numbers and queues events in its transaction (the counter and the events
only: it never writes a state document, so it never conflicts with a deliverer); a deliverer leases
a subscription's state, sends its events in number order and records how far it got. Every update
a deliverer makes names its lease owner, so a process whose lease ran out cannot overwrite the one
that took over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.store import documents as f
from fhir_server.store.repository import Session

Document = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEVER = datetime(9999, 1, 1, tzinfo=UTC)  # "due" of a subscription with nothing to do


@dataclass(frozen=True)
class EventDraft:
    """An event about to be numbered and queued."""

    at: datetime
    focus: str  # "Type/id/_history/v"
    method: str  # POST, PUT, DELETE, or EVENT (a time trigger)
    topic: str | None


@dataclass(frozen=True)
class QueuedEvent:
    subscription_id: str
    number: int
    at: datetime
    focus: str
    method: str
    topic: str | None


@dataclass(frozen=True)
class SubscriptionState:
    id: str
    owner: dict[str, Any]  # the creator's authorization as recorded (fhir_server.subscriptions.owner)
    generation: int  # bumped by every client write of the Subscription
    status: str
    activate: bool
    delivered: int  # last event number delivered (or skipped: dropped from a full queue)
    failures: int
    retry_at: datetime
    last_sent: datetime | None
    error: str | None


def _state(doc: Document) -> SubscriptionState:
    return SubscriptionState(
        id=doc["_id"],
        owner=dict(doc.get(f.SS_OWNER) or {}),
        generation=int(doc.get(f.SS_GENERATION) or 0),
        status=str(doc.get(f.SS_STATUS) or "requested"),
        activate=bool(doc.get(f.SS_ACTIVATE)),
        delivered=int(doc.get(f.SS_DELIVERED) or 0),
        failures=int(doc.get(f.SS_FAILURES) or 0),
        retry_at=doc.get(f.SS_RETRY_AT) or EPOCH,
        last_sent=doc.get(f.SS_LAST_SENT),
        error=doc.get(f.SS_ERROR),
    )


@dataclass(frozen=True)
class Progress:
    """What a deliverer records; None fields are left as they are."""

    delivered: int | None = None  # only ever moves forward
    failures: int | None = None
    retry_at: datetime | None = None
    last_sent: datetime | None = None
    error: str | None = None
    clear_error: bool = False
    activate: bool | None = None
    status: str | None = None

    def update(self, lease_until: datetime) -> Document:
        values = {
            f.SS_FAILURES: self.failures,
            f.SS_RETRY_AT: self.retry_at,
            f.SS_LAST_SENT: self.last_sent,
            f.SS_ERROR: self.error,
            f.SS_ACTIVATE: self.activate,
            f.SS_STATUS: self.status,
        }
        changes: Document = {name: value for name, value in values.items() if value is not None}
        if self.clear_error:
            changes[f.SS_ERROR] = None
        changes[f.SS_LEASE_UNTIL] = lease_until  # every record renews the lease
        update: Document = {"$set": changes}
        if self.delivered is not None:
            update["$max"] = {f.SS_DELIVERED: self.delivered}
        return update


def _event(doc: Document) -> QueuedEvent:
    return QueuedEvent(
        subscription_id=doc[f.SE_SUBSCRIPTION],
        number=int(doc[f.SE_NUMBER]),
        at=doc[f.SE_AT],
        focus=doc[f.SE_FOCUS],
        method=doc[f.SE_METHOD],
        topic=doc.get(f.SE_TOPIC),
    )


def _event_id(subscription_id: str, number: int) -> str:
    return f"{subscription_id}|{number:012d}"


class SubscriptionLedger:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._state = db[f.SUBSCRIPTION_STATE_COLLECTION]
        self._counters = db[f.SUBSCRIPTION_COUNTERS_COLLECTION]
        self._events = db[f.SUBSCRIPTION_EVENTS_COLLECTION]

    # ----- written with the Subscription (its repository hook, in the write's transaction) ---------

    async def record_write(
        self,
        *,
        subscription_id: str,
        owner: Mapping[str, Any],
        activate: bool,
        status: str,
        session: Session,
    ) -> None:
        """A client wrote the Subscription: it now acts for ``owner``; ``activate`` asks for a
        handshake (due at once). Event numbers and delivery progress survive updates."""
        await self._state.update_one(
            {"_id": subscription_id},
            {
                "$set": {
                    f.SS_OWNER: dict(owner),
                    f.SS_ACTIVATE: activate,
                    f.SS_STATUS: status,
                    f.SS_DUE: EPOCH if activate else NEVER,  # due at once, whatever clock deliverers keep
                    f.SS_FAILURES: 0,
                    f.SS_RETRY_AT: EPOCH,
                    f.SS_ERROR: None,
                },
                "$inc": {f.SS_GENERATION: 1},
                "$setOnInsert": {
                    f.SS_DELIVERED: 0,
                    f.SS_LEASE_OWNER: None,
                    f.SS_LEASE_UNTIL: EPOCH,
                    f.SS_LAST_SENT: None,
                },
            },
            upsert=True,
            session=session,
        )

    async def set_status(self, subscription_id: str, *, status: str, session: Session) -> None:
        """The status the server decided (written with the Subscription's new version)."""
        await self._state.update_one(
            {"_id": subscription_id}, {"$set": {f.SS_STATUS: status}}, session=session
        )

    async def forget(self, *, subscription_id: str, session: Session) -> None:
        """The Subscription was deleted: its state, counter and queued events go."""
        await self._state.delete_one({"_id": subscription_id}, session=session)
        await self._counters.delete_one({"_id": subscription_id}, session=session)
        await self._events.delete_many({f.SE_SUBSCRIPTION: subscription_id}, session=session)

    # ----- reads -----------------------------------------------------------------------------------

    async def state(
        self, subscription_id: str, *, session: Session | None = None
    ) -> SubscriptionState | None:
        doc = await self._state.find_one({"_id": subscription_id}, session=session)
        return None if doc is None else _state(doc)

    async def states(self, subscription_ids: Sequence[str]) -> dict[str, SubscriptionState]:
        cursor = self._state.find({"_id": {"$in": list(subscription_ids)}})
        return {doc["_id"]: _state(doc) async for doc in cursor}

    async def last_number(self, subscription_id: str) -> int:
        """The number of the last event queued (eventsSinceSubscriptionStart)."""
        return (await self.last_numbers([subscription_id])).get(subscription_id, 0)

    async def last_numbers(self, subscription_ids: Sequence[str]) -> dict[str, int]:
        """The event counters of these subscriptions (those without one left out)."""
        cursor = self._counters.find({"_id": {"$in": list(subscription_ids)}})
        return {doc["_id"]: int(doc.get(f.SC_LAST) or 0) async for doc in cursor}

    async def events(
        self, subscription_id: str, *, after: int, limit: int, until: int | None = None
    ) -> list[QueuedEvent]:
        """Queued events numbered after ``after`` (and at most ``until``), oldest first."""
        numbers: Document = {"$gt": after}
        if until is not None:
            numbers["$lte"] = until
        cursor = (
            self._events.find({f.SE_SUBSCRIPTION: subscription_id, f.SE_NUMBER: numbers})
            .sort(f.SE_NUMBER, ASCENDING)
            .limit(limit)
        )
        return [_event(doc) async for doc in cursor]

    # ----- appended by the watcher (in its transaction) ---------------------------------------------

    async def append(
        self,
        *,
        drafts: Mapping[str, Sequence[EventDraft]],
        counters: Mapping[str, int],
        queue_limit: int,
        session: Session,
    ) -> dict[str, int]:
        """Number and queue events per subscription, continuing from ``counters`` (the last numbers,
        kept by the one watcher that holds the lease); returns the new last numbers. Three round
        trips whatever the number of subscriptions. When a queue passes ``queue_limit``, its oldest
        events are dropped (the receiver sees the gap in event numbers)."""
        last_numbers: dict[str, int] = {}
        documents: list[Document] = []
        for subscription_id, events in drafts.items():
            first = counters.get(subscription_id, 0) + 1
            for number, draft in enumerate(events, start=first):
                documents.append(
                    {
                        "_id": _event_id(subscription_id, number),
                        f.SE_SUBSCRIPTION: subscription_id,
                        f.SE_NUMBER: number,
                        f.SE_AT: draft.at,
                        f.SE_FOCUS: draft.focus,
                        f.SE_METHOD: draft.method,
                        f.SE_TOPIC: draft.topic,
                    }
                )
            if events:
                last_numbers[subscription_id] = first + len(events) - 1
        if not documents:
            return last_numbers
        await self._counters.bulk_write(
            [
                UpdateOne({"_id": subscription_id}, {"$set": {f.SC_LAST: last}})
                for subscription_id, last in last_numbers.items()
            ],
            ordered=False,
            session=session,
        )
        await self._events.insert_many(documents, ordered=False, session=session)
        for subscription_id, last in last_numbers.items():
            # Trimmed in steps of a tenth of the limit, so a full queue costs a delete now and then.
            step = max(1, queue_limit // 10)
            if last > queue_limit and (last - queue_limit) % step < len(drafts[subscription_id]):
                await self._events.delete_many(
                    {f.SE_SUBSCRIPTION: subscription_id, f.SE_NUMBER: {"$lte": last - queue_limit}},
                    session=session,
                )
        return last_numbers

    async def open_counter(self, *, subscription_id: str, session: Session) -> None:
        """Make sure the subscription has an event counter (written with its creation)."""
        await self._counters.update_one(
            {"_id": subscription_id},
            {"$setOnInsert": {f.SC_LAST: 0}},
            upsert=True,
            session=session,
        )

    async def request_attention(self, subscription_ids: Sequence[str] | None, *, now: datetime) -> None:
        """Make deliverers look at these subscriptions (None: all of them) now."""
        query: Document = {} if subscription_ids is None else {"_id": {"$in": list(subscription_ids)}}
        await self._state.update_many(query, {"$min": {f.SS_DUE: now}})

    # ----- deliverers ------------------------------------------------------------------------------

    async def claim_due(self, *, owner: str, now: datetime, lease_seconds: float) -> SubscriptionState | None:
        """Lease the subscription most overdue, if any is due and free."""
        doc = await self._state.find_one_and_update(
            {f.SS_DUE: {"$lte": now}, f.SS_LEASE_UNTIL: {"$lt": now}},
            {
                "$set": {
                    f.SS_LEASE_OWNER: owner,
                    f.SS_LEASE_UNTIL: now + timedelta(seconds=lease_seconds),
                    # The holder decides when it is due next; events queued meanwhile make it now.
                    f.SS_DUE: NEVER,
                }
            },
            sort=[(f.SS_DUE, ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _state(doc)

    async def record(
        self, subscription_id: str, *, owner: str, progress: Progress, lease_until: datetime
    ) -> SubscriptionState | None:
        """Record progress (and renew the lease) while holding it; the state after, or None when the
        lease was lost (or the subscription deleted)."""
        doc = await self._state.find_one_and_update(
            {"_id": subscription_id, f.SS_LEASE_OWNER: owner},
            progress.update(lease_until),
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _state(doc)

    async def release_all(self, *, owner: str) -> None:
        """Give back every lease ``owner`` holds (a process shutting down)."""
        await self._state.update_many(
            {f.SS_LEASE_OWNER: owner},
            {
                "$set": {f.SS_LEASE_UNTIL: EPOCH, f.SS_LEASE_OWNER: None},
                "$min": {f.SS_DUE: datetime.now(UTC)},
            },
        )

    async def release(self, subscription_id: str, *, owner: str, due: datetime) -> None:
        """Give the lease back; the subscription is looked at again at ``due`` (or earlier, when the
        watcher queued events meanwhile)."""
        await self._state.update_one(
            {"_id": subscription_id, f.SS_LEASE_OWNER: owner},
            # "due" was NEVER while we held it, unless the watcher queued events meanwhile (then now).
            {"$set": {f.SS_LEASE_UNTIL: EPOCH, f.SS_LEASE_OWNER: None}, "$min": {f.SS_DUE: due}},
        )

    async def trim(self, subscription_id: str, *, up_to: int) -> None:
        """Forget delivered events numbered ``up_to`` and below (retention for ``$events``)."""
        if up_to > 0:
            await self._events.delete_many({f.SE_SUBSCRIPTION: subscription_id, f.SE_NUMBER: {"$lte": up_to}})
