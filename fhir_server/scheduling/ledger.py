"""The booking ledger: one small document per (time-holding appointment, exclusive actor).

Kept by the booking hook in the same transaction as the appointment, so "who holds this actor's
time between s and e" is an indexed range query on (actor, s, e) rather than a search over
Appointment resources.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, TypedDict

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.scheduling.appointments import Interval
from fhir_server.store.repository import Session

BOOKINGS_COLLECTION: Final = "appointment_bookings"
ID: Final = "_id"  # "<appointment id>|<actor>"
APPOINTMENT: Final = "a"  # appointment id
ACTOR: Final = "actor"  # "Practitioner/1", "Patient/2", "Location/3" ...
START: Final = "s"  # datetime, UTC, inclusive
END: Final = "e"  # datetime, UTC, exclusive


class BookingDoc(TypedDict):
    _id: str
    a: str
    actor: str
    s: datetime
    e: datetime


class BookingLedger:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection: AsyncCollection[Any] = db[BOOKINGS_COLLECTION]

    async def ensure_indexes(self) -> None:
        """Create the collection's indexes (outside any transaction; idempotent)."""
        await self.collection.create_indexes(
            [
                IndexModel([(ACTOR, ASCENDING), (START, ASCENDING), (END, ASCENDING)], name="actor_s_e"),
                IndexModel([(APPOINTMENT, ASCENDING)], name="a"),
            ]
        )

    async def overlapping(
        self, *, actor: str, interval: Interval, exclude: str, session: Session, limit: int = 3
    ) -> list[BookingDoc]:
        """Other appointments holding ``actor`` somewhere in the half-open ``interval``."""
        query = {
            ACTOR: actor,
            START: {"$lt": interval.end},
            END: {"$gt": interval.start},
            APPOINTMENT: {"$ne": exclude},
        }
        cursor = self.collection.find(query, session=session).sort(START, ASCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def replace(
        self, *, appointment_id: str, actors: Iterable[str], interval: Interval | None, session: Session
    ) -> None:
        """Make the ledger hold exactly these actors' time for this appointment (nothing when None)."""
        await self.collection.delete_many({APPOINTMENT: appointment_id}, session=session)
        if interval is None:
            return
        docs: list[BookingDoc] = [
            {
                ID: f"{appointment_id}|{actor}",
                APPOINTMENT: appointment_id,
                ACTOR: actor,
                START: interval.start,
                END: interval.end,
            }
            for actor in sorted(actors)
        ]
        if docs:
            await self.collection.insert_many(docs, session=session)
