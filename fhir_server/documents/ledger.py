"""Which resources have ever pointed at which Binary (the ``binary_refs`` collection).

``Attachment.url`` is not a Reference, so the ``refs`` field the delete interaction checks does
not see it, and it only describes current versions anyway. A Binary must outlive every version,
current or past, of a DocumentReference or Media that points at it (a vread of an old version
must still lead to its bytes). So every write of such a resource records, in its transaction,
one entry per Binary it points at; entries are never removed by updates or deletes, only when
the referring resource is expunged. Looking up "is Binary/x still referenced?" is then one
indexed equality query, instead of a scan of the history collection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.services import Session

LEDGER_COLLECTION: Final = "binary_refs"
BINARY: Final = "b"  # the Binary's id
REFERRER: Final = "r"  # "DocumentReference/7": the resource pointing at it

Document = dict[str, Any]
_ensured: set[tuple[int, str]] = set()


def _entry_id(binary_id: str, referrer: str) -> str:
    return f"{binary_id}|{referrer}"


class BinaryLedger:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._collection = db[LEDGER_COLLECTION]

    async def ensure(self) -> None:
        """Create the collection's indexes once per database (outside any transaction)."""
        marker = (id(self._db.client), self._db.name)
        if marker in _ensured:
            return
        await self._collection.create_indexes(
            [IndexModel([(BINARY, ASCENDING)], name="b"), IndexModel([(REFERRER, ASCENDING)], name="r")]
        )
        _ensured.add(marker)

    async def record(self, *, referrer: str, binary_ids: Iterable[str], session: Session) -> None:
        for binary_id in binary_ids:
            await self._collection.update_one(
                {"_id": _entry_id(binary_id, referrer)},
                {"$setOnInsert": {BINARY: binary_id, REFERRER: referrer}},
                upsert=True,
                session=session,
            )

    async def referrers(self, binary_id: str, *, session: Session | None = None, limit: int = 3) -> list[str]:
        """Resources ("Type/id") that point or pointed at ``Binary/<binary_id>``."""
        cursor = self._collection.find({BINARY: binary_id}, {REFERRER: 1}, session=session, limit=limit)
        return [doc[REFERRER] async for doc in cursor]

    async def forget(self, *, referrer: str, session: Session) -> list[str]:
        """Drop the entries of an expunged resource; returns the Binary ids it pointed at."""
        cursor = self._collection.find({REFERRER: referrer}, {BINARY: 1}, session=session)
        binary_ids = [doc[BINARY] async for doc in cursor]
        await self._collection.delete_many({REFERRER: referrer}, session=session)
        return binary_ids
