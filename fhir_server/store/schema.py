"""The one place that creates collections and indexes.

Shared collections (history, claims, the ledgers) get their indexes at start-up (``create_shared``);
a resource type's collection gets its indexes before the first write of that type (``ready``),
outside any transaction (MongoDB builds no index inside one). Which search parameters deserve an
index is the search engine's business: it hands us ``index_models`` for a type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.store import documents as f

IndexModels = Callable[[str], list[IndexModel]]


def _base_indexes() -> list[IndexModel]:
    return [
        IndexModel([(f.REFERENCES, ASCENDING)], name="refs"),
        IndexModel([(f.LAST_UPDATED, ASCENDING), (f.ID, ASCENDING)], name="lu_id"),
    ]


# Shared collections and their indexes; each module that owns one of them declares its fields in
# fhir_server.store.documents, and its indexes here.
SHARED_INDEXES: dict[str, list[IndexModel]] = {
    f.HISTORY_COLLECTION: [
        IndexModel([(f.H_TYPE, ASCENDING), (f.H_ID, ASCENDING), (f.VERSION, DESCENDING)], name="t_id_v"),
        IndexModel([(f.H_TYPE, ASCENDING), (f.LAST_UPDATED, DESCENDING)], name="t_lu"),
        IndexModel([(f.LAST_UPDATED, DESCENDING)], name="lu"),
    ],
    f.CLAIMS_COLLECTION: [IndexModel([("k", ASCENDING)], name="k")],
    f.BOOKINGS_COLLECTION: [
        IndexModel([(f.B_ACTOR, ASCENDING), (f.B_START, ASCENDING), (f.B_END, ASCENDING)], name="actor_s_e"),
        IndexModel([(f.B_APPOINTMENT, ASCENDING)], name="a"),
    ],
    f.BINARY_REFS_COLLECTION: [
        IndexModel([(f.BR_BINARY, ASCENDING)], name="b"),
        IndexModel([(f.BR_REFERRER, ASCENDING)], name="r"),
    ],
    # Deliverers look for what is due; $events and delivery read one subscription's events in order.
    f.SUBSCRIPTION_STATE_COLLECTION: [IndexModel([(f.SS_DUE, ASCENDING)], name="due")],
    f.SUBSCRIPTION_EVENTS_COLLECTION: [
        IndexModel([(f.SE_SUBSCRIPTION, ASCENDING), (f.SE_NUMBER, ASCENDING)], name="s_n", unique=True)
    ],
    f.JOBS_COLLECTION: [
        IndexModel([(f.J_STATE, ASCENDING), (f.J_LEASE, ASCENDING)], name="state_lease"),
        IndexModel([(f.J_EXPIRES, ASCENDING)], name="expires"),
    ],
    f.AUDIT_OUTBOX_COLLECTION: [IndexModel([(f.O_MOMENT, ASCENDING)], name="t")],
}

# The audit log takes an insert per request, so it gets only the indexes its questions need rather
# than one per search parameter (each index costs every insert): who saw a patient's record
# (patient), what happened to a resource (entity), what a user or app did (agent), each in date
# order as the trail is read (``_sort=-date``: the descending sort key ``ix.date@d``), date
# ranges, and the hash chain's order. Other parameters still work, narrowed by these.
_DATE_DESC = "ix.date@d"
LOG_INDEXES: dict[str, list[IndexModel]] = {
    "AuditEvent": [
        *_base_indexes(),  # refs: a delete's "still referenced?" check asks every collection
        IndexModel([(f.COMPARTMENTS, ASCENDING), (f.ID, ASCENDING)], name="comp"),
        IndexModel(
            [("ix.patient", ASCENDING), (_DATE_DESC, DESCENDING), (f.ID, DESCENDING)], name="patient_date"
        ),
        IndexModel(
            [("ix.entity", ASCENDING), (_DATE_DESC, DESCENDING), (f.ID, DESCENDING)], name="entity_date"
        ),
        IndexModel(
            [("ix.agent", ASCENDING), (_DATE_DESC, DESCENDING), (f.ID, DESCENDING)], name="agent_date"
        ),
        IndexModel([(_DATE_DESC, DESCENDING), (f.ID, DESCENDING)], name="date"),
        IndexModel([("ix.date@lo", ASCENDING)], name="date_lo"),
        IndexModel([("ix.date@hi", ASCENDING)], name="date_hi"),
        IndexModel([(f.A_SEQ, ASCENDING)], name="seq", unique=True, sparse=True),
    ],
}


async def ensure_indexes(collection: AsyncCollection[dict[str, Any]], models: Sequence[IndexModel]) -> None:
    """Create the indexes a collection lacks. Listing is an order of magnitude cheaper than asking
    for indexes that exist (the embedded database checks each one again), and every start-up asks
    for all of them. An index whose name exists with other keys is asked for anyway, so that the
    database reports the conflict instead of this silently keeping the old definition."""
    existing = {index["name"]: dict(index["key"]) async for index in await collection.list_indexes()}
    wanted = [
        model for model in models if existing.get(model.document["name"]) != dict(model.document["key"])
    ]
    if wanted:
        await collection.create_indexes(wanted)


class Schema:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], index_models: IndexModels) -> None:
        self._db = db
        self._index_models = index_models
        self._ready: set[str] = set()
        self._lock = asyncio.Lock()

    async def create_shared(self) -> None:
        """Indexes of the shared collections (idempotent; at start-up)."""
        for name, models in SHARED_INDEXES.items():
            await ensure_indexes(self._db[name], models)

    async def ready(self, resource_types: Iterable[str]) -> None:
        """Each type's collection has its indexes (idempotent; never inside a transaction)."""
        missing = [name for name in dict.fromkeys(resource_types) if name not in self._ready]
        if not missing:
            return
        async with self._lock:
            for resource_type in missing:
                if resource_type not in self._ready:
                    await self.refresh(resource_type)

    async def refresh(self, resource_type: str) -> None:
        """(Re)create a type's indexes, e.g. after a search parameter was added."""
        models = LOG_INDEXES.get(resource_type) or _base_indexes() + self._index_models(resource_type)
        await ensure_indexes(self._db[f.resource_collection_name(resource_type)], models)
        self._ready.add(resource_type)

    async def stored_types(self) -> list[str]:
        """Resource types that have a collection."""
        prefix = f.resource_collection_name("")
        names = await self._db.list_collection_names()
        return sorted(name[len(prefix) :] for name in names if name.startswith(prefix))
