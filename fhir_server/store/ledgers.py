"""Two small ledgers kept beside resources, each written in the transaction of the write it records.

* The booking ledger: one document per (time-holding appointment, exclusive actor), so "who holds
  this actor's time between s and e" is an indexed range query on (actor, s, e) rather than a
  search over Appointment resources.
* The Binary ledger: which resources have ever pointed at which Binary. ``Attachment.url`` is not
  a Reference, so the ``refs`` field the delete interaction checks does not see it, and it only
  describes current versions anyway. A Binary must outlive every version, current or past, of a
  DocumentReference or Media that points at it (a vread of an old version must still lead to its
  bytes). Entries are never removed by updates or deletes, only when the referrer is expunged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypedDict

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.store import documents as f
from fhir_server.store.repository import Session


class Booking(TypedDict):
    _id: str  # "<appointment id>|<actor>"
    a: str
    actor: str
    s: datetime
    e: datetime


class BookingLedger:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._collection = db[f.BOOKINGS_COLLECTION]

    async def overlapping(
        self,
        *,
        actor: str,
        start: datetime,
        end: datetime,
        exclude: str,
        session: Session,
        limit: int = 3,
    ) -> list[str]:
        """Ids of other appointments holding ``actor`` somewhere in the half-open [start, end)."""
        query = {
            f.B_ACTOR: actor,
            f.B_START: {"$lt": end},
            f.B_END: {"$gt": start},
            f.B_APPOINTMENT: {"$ne": exclude},
        }
        cursor = self._collection.find(query, session=session).sort(f.B_START, ASCENDING).limit(limit)
        return [doc[f.B_APPOINTMENT] async for doc in cursor]

    async def replace(
        self,
        *,
        appointment_id: str,
        actors: Iterable[str],
        interval: tuple[datetime, datetime] | None,
        session: Session,
    ) -> None:
        """Make the ledger hold exactly these actors' time for this appointment (nothing when None)."""
        await self._collection.delete_many({f.B_APPOINTMENT: appointment_id}, session=session)
        if interval is None:
            return
        start, end = interval
        docs: list[Booking] = [
            {"_id": f"{appointment_id}|{actor}", "a": appointment_id, "actor": actor, "s": start, "e": end}
            for actor in sorted(actors)
        ]
        if docs:
            await self._collection.insert_many(docs, session=session)


def _entry_id(binary_id: str, referrer: str) -> str:
    return f"{binary_id}|{referrer}"


class BinaryLedger:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._collection = db[f.BINARY_REFS_COLLECTION]

    async def record(self, *, referrer: str, binary_ids: Iterable[str], session: Session) -> None:
        for binary_id in binary_ids:
            await self._collection.update_one(
                {"_id": _entry_id(binary_id, referrer)},
                {"$setOnInsert": {f.BR_BINARY: binary_id, f.BR_REFERRER: referrer}},
                upsert=True,
                session=session,
            )

    async def referrers(self, binary_id: str, *, session: Session | None = None, limit: int = 3) -> list[str]:
        """Resources ("Type/id") that point or pointed at ``Binary/<binary_id>``."""
        cursor = self._collection.find(
            {f.BR_BINARY: binary_id}, {f.BR_REFERRER: 1}, session=session, limit=limit
        )
        return [doc[f.BR_REFERRER] async for doc in cursor]

    async def forget(self, *, referrer: str, session: Session) -> list[str]:
        """Drop the entries of an expunged resource; returns the Binary ids it pointed at."""
        cursor = self._collection.find({f.BR_REFERRER: referrer}, {f.BR_BINARY: 1}, session=session)
        binary_ids = [doc[f.BR_BINARY] async for doc in cursor]
        await self._collection.delete_many({f.BR_REFERRER: referrer}, session=session)
        return binary_ids
