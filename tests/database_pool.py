"""Databases reused between tests: a test app's database, emptied back to what a fresh app leaves.

A fresh database costs every test app its start-up writes (the shipped conformance resources,
each through the whole write path: history, indexes, audit) and its indexes. A released database
is emptied of everything the test wrote and handed to the next app of the same test process, which
then finds the shipped resources unchanged and writes nothing. What a fresh start leaves is noted
once per database (its baseline); a database whose baseline a test changed is dropped instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient

from fhir_server.store import documents as f

Document = dict[str, Any]
# The audit trail of the start-up writes is not part of the baseline: tests count their own events.
_ALWAYS_EMPTIED = frozenset(
    {
        f.resource_collection_name("AuditEvent"),
        f.resource_collection_name("Provenance"),
        f.AUDIT_OUTBOX_COLLECTION,
        f.AUDIT_CHAIN_COLLECTION,
    }
)
_UNRECORDED_HISTORY = {f.H_TYPE: {"$in": ["AuditEvent", "Provenance"]}}


@dataclass
class _Baseline:
    documents: dict[str, dict[Any, Document]]  # collection -> _id -> document


@dataclass
class DatabasePool:
    mongo_uri: str
    free: list[str] = field(default_factory=list)
    baselines: dict[str, _Baseline] = field(default_factory=dict)
    _mongo: AsyncMongoClient[Document] | None = None

    @property
    def client(self) -> AsyncMongoClient[Document]:
        """One client for the whole session (made on first use, in the session's event loop)."""
        if self._mongo is None:
            self._mongo = AsyncMongoClient(self.mongo_uri, tz_aware=True)
        return self._mongo

    async def close(self) -> None:
        if self._mongo is not None:
            await self._mongo.close()
            self._mongo = None

    def acquire(self) -> str:
        return self.free.pop() if self.free else f"test_{uuid.uuid4().hex[:12]}"

    async def started(self, name: str) -> None:
        """Note the resources the first app on ``name`` stored (called once its start-up is done)."""
        if name in self.baselines:
            return
        db = self.client[name]
        documents: dict[str, dict[Any, Document]] = {}
        for collection in await db.list_collection_names():
            if not _is_baseline(collection):
                continue
            query = _UNRECORDED_HISTORY_NOT if collection == f.HISTORY_COLLECTION else {}
            documents[collection] = {doc["_id"]: doc async for doc in db[collection].find(query)}
        self.baselines[name] = _Baseline(documents)

    async def release(self, name: str) -> None:
        """Empty ``name`` back to its baseline and keep it, or drop it when the baseline changed."""
        baseline = self.baselines.get(name)
        if baseline is None or not await _restore(self.client[name], baseline):
            self.baselines.pop(name, None)
            await self.client.drop_database(name)
            return
        self.free.append(name)


_UNRECORDED_HISTORY_NOT = {"$nor": [_UNRECORDED_HISTORY]}


def _is_baseline(collection: str) -> bool:
    """Stored resources and their history; the rest (leases, ledgers, jobs, the watcher's cursor)
    is emptied: an app's start-up makes again what it needs there."""
    resources = collection.startswith(f.resource_collection_name("")) or collection == f.HISTORY_COLLECTION
    return resources and collection not in _ALWAYS_EMPTIED


async def _restore(db: Any, baseline: _Baseline) -> bool:
    for collection in await db.list_collection_names():
        if collection.startswith("system."):
            continue
        kept = baseline.documents.get(collection, {})
        if kept:
            current = {doc["_id"]: doc async for doc in db[collection].find({"_id": {"$in": list(kept)}})}
            if current != kept:
                return False
            await db[collection].delete_many({"_id": {"$nin": list(kept)}})
        else:
            await db[collection].delete_many({})
    return True
