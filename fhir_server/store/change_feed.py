"""The database's change stream of resource writes, and the small documents the watcher keeps.

Every committed version of every resource, whatever wrote it (REST, bundle entries, import, the
server's own consequences), is an ``insert`` (version 1) or a ``replace`` (later versions and
deletions) of a ``resources.<Type>`` document, so watching those two operations sees every write
once, after commit, in commit order. Index rebuilds (``$reindex``) are ``update`` operations and
make no new version: they are not watched.

The resume token of the last change fully handled is stored (``subscription_runtime``), in the
same transaction as what handling it produced, so a restart resumes exactly where handling stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from fhir_server.store import documents as f
from fhir_server.store.repository import Session

logger = logging.getLogger(__name__)

Document = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RESOURCE_COLLECTIONS = "^" + f.resource_collection_name("").replace(".", "\\.")
# Change-stream errors that mean the stored token can no longer be resumed from (history pruned,
# or a token of another deployment): start again from now, and say so.
_LOST_HISTORY_CODES = frozenset({136, 260, 280, 286})


@dataclass(frozen=True)
class RuntimeCursor:
    """Where a background task stands: the watcher's resume token, a time trigger's watermark."""

    token: Mapping[str, Any] | None
    watermark: datetime | None


class ChangeStreamEnded(Exception):
    """The stream will bring nothing more (its database was dropped, or it was closed)."""


class ChangeHistoryLost(Exception):
    """The stored resume token points before what the database still keeps."""


@dataclass(frozen=True)
class ResourceChange:
    """One committed version, as the change stream saw it."""

    resource_type: str
    resource_id: str
    version: int
    deleted: bool
    document: Document  # the stored document: resource, search index, compartments ...
    token: Mapping[str, Any]  # resume token just after this change

    @property
    def resource(self) -> dict[str, Any] | None:
        value = self.document.get(f.RESOURCE)
        return value if isinstance(value, dict) else None

    @property
    def last_updated(self) -> datetime:
        moment = self.document.get(f.LAST_UPDATED)
        return moment if isinstance(moment, datetime) else datetime.now(UTC)


def _change(event: Mapping[str, Any]) -> ResourceChange | None:
    collection = str(event.get("ns", {}).get("coll", ""))
    document = event.get("fullDocument")
    if not isinstance(document, dict):
        return None
    return ResourceChange(
        resource_type=collection[len(f.resource_collection_name("")) :],
        resource_id=str(document.get(f.ID)),
        version=int(document.get(f.VERSION) or 0),
        deleted=bool(document.get(f.DELETED)),
        document=document,
        token=event["_id"],
    )


class ResourceChangeStream:
    """Reads committed resource changes into a queue in the background (one getMore in flight while
    the previous batch is handled); ``next_batch`` hands out what has arrived."""

    def __init__(self, stream: AsyncChangeStream[Document], *, max_queue: int = 10_000) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[ResourceChange] = asyncio.Queue(max_queue)
        self._idle_token: Mapping[str, Any] | None = stream.resume_token
        self._failure: BaseException | None = None
        self._reader = asyncio.create_task(self._read(), name="subscriptions-change-reader")

    async def _read(self) -> None:
        try:
            while True:
                event = await self._stream.try_next()
                if not self._stream.alive:  # invalidated (collection or database dropped) or closed
                    raise ChangeStreamEnded("the change stream ended")
                if event is None:
                    # Nothing new: the post-batch token is past everything queued so far.
                    self._idle_token = self._stream.resume_token
                    continue
                change = _change(event)
                if change is not None:
                    await self._queue.put(change)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # handed to the consumer, which decides
            self._failure = error

    @property
    def idle_token(self) -> Mapping[str, Any] | None:
        """A token past every change handed out so far, when the queue is empty (else None)."""
        return self._idle_token if self._queue.empty() else None

    async def next_batch(self, *, max_changes: int, wait: float) -> list[ResourceChange]:
        """The changes that have arrived (at least one, at most ``max_changes``), or [] after
        ``wait`` seconds without any."""
        if self._failure is not None:
            raise self._failure
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout=wait)
        except TimeoutError:
            if self._failure is not None:
                raise self._failure from None
            return []
        batch = [first]
        while len(batch) < max_changes and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._stream.close()


class ChangeFeed:
    """The change stream of resource writes, the watcher's stored cursor, named leases for the
    background tasks that must run in one process at a time, and the probe collections."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._runtime = db[f.SUBSCRIPTION_RUNTIME_COLLECTION]

    # ----- the stream ------------------------------------------------------------------------------

    async def open(
        self, token: Mapping[str, Any] | None, *, max_await_seconds: float = 1.0
    ) -> ResourceChangeStream:
        """Watch resource writes from just after ``token`` (from now when None)."""
        pipeline = [
            {
                "$match": {
                    "operationType": {"$in": ["insert", "replace"]},
                    "ns.coll": {"$regex": _RESOURCE_COLLECTIONS},
                }
            }
        ]
        try:
            stream = await self._db.watch(
                pipeline, resume_after=token, max_await_time_ms=int(max_await_seconds * 1000)
            )
        except OperationFailure as error:
            if token is not None and error.code in _LOST_HISTORY_CODES:
                raise ChangeHistoryLost(str(error.code)) from error
            raise
        return ResourceChangeStream(stream)

    # ----- named leases and cursors ----------------------------------------------------------------

    async def acquire(self, name: str, *, owner: str, now: datetime, seconds: float) -> RuntimeCursor | None:
        """Take (or keep) the lease ``name``; its cursor when held by ``owner`` now, else None."""
        until = now + timedelta(seconds=seconds)
        try:
            doc = await self._runtime.find_one_and_update(
                {"_id": name, "$or": [{f.SR_LEASE_UNTIL: {"$lt": now}}, {f.SR_LEASE_OWNER: owner}]},
                {"$set": {f.SR_LEASE_OWNER: owner, f.SR_LEASE_UNTIL: until}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # held by another process: the upsert met the existing document
            return None
        if doc is None:
            return None
        return RuntimeCursor(token=doc.get(f.SR_TOKEN), watermark=doc.get(f.SR_WATERMARK))

    async def release(self, name: str, *, owner: str) -> None:
        await self._runtime.update_one(
            {"_id": name, f.SR_LEASE_OWNER: owner}, {"$set": {f.SR_LEASE_UNTIL: EPOCH}}
        )

    async def save_cursor(
        self,
        name: str,
        *,
        owner: str,
        token: Mapping[str, Any] | None = None,
        watermark: datetime | None = None,
        session: Session | None = None,
    ) -> bool:
        """Store the resume token and/or a time trigger's watermark if ``owner`` still holds the
        lease (fencing: a process that lost it cannot move the cursor). False when it does not."""
        values: Document = {}
        if token is not None:
            values[f.SR_TOKEN] = token
        if watermark is not None:
            values[f.SR_WATERMARK] = watermark
        return await self._save(name, owner, values, session)

    async def _save(self, name: str, owner: str, values: Document, session: Session | None) -> bool:
        result = await self._runtime.update_one(
            {"_id": name, f.SR_LEASE_OWNER: owner},
            {"$set": {**values, f.SR_UPDATED: datetime.now(UTC)}},
            session=session,
        )
        return result.matched_count == 1

    # ----- versions before a change ----------------------------------------------------------------

    async def versions(self, keys: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], Document]:
        """Resources of these (type, id, version) from history (deletions and unknown left out)."""
        ids = [f.history_id(t, i, v) for t, i, v in keys]
        found: dict[tuple[str, str, int], Document] = {}
        if not ids:
            return found
        cursor = self._db[f.HISTORY_COLLECTION].find({f.ID: {"$in": ids}})
        async for doc in cursor:
            resource = doc.get(f.RESOURCE)
            if isinstance(resource, dict):
                found[(doc[f.H_TYPE], doc[f.H_ID], doc[f.VERSION])] = resource
        return found

    # ----- probes ----------------------------------------------------------------------------------

    async def probe(self, resource_type: str, round_number: int, documents: list[Document]) -> Probe:
        """Put stored-shape documents (one per id) where search filters can run on them."""
        collection = self._db[f.probe_collection_name(resource_type, round_number)]
        probe = Probe(collection, [doc[f.ID] for doc in documents])
        if documents:
            await collection.delete_many({f.ID: {"$in": probe.ids}})  # left by a watcher that died
            await collection.insert_many(documents, ordered=False)
        return probe

    async def clear_probes(self) -> None:
        """Remove what a watcher that stopped mid-batch left in the probe collections."""
        prefix = f.PROBE_PREFIX
        for name in await self._db.list_collection_names():
            if name.startswith(prefix):
                await self._db[name].delete_many({})


class Probe:
    """A batch's documents of one type, to run search filters on; ``clear`` when done."""

    def __init__(self, collection: AsyncCollection[Document], ids: list[str]) -> None:
        self._collection = collection
        self.ids = ids

    async def matching(self, query: Mapping[str, Any]) -> set[str]:
        """Ids of the probed documents the filter selects."""
        if not self.ids:
            return set()
        scoped = {"$and": [dict(query), {f.ID: {"$in": self.ids}}]}
        return {doc[f.ID] async for doc in self._collection.find(scoped, {f.ID: 1})}

    async def clear(self) -> None:
        if self.ids:
            try:
                await self._collection.delete_many({f.ID: {"$in": self.ids}})
            except PyMongoError as error:  # left over: cleared when the next watcher starts
                logger.warning("could not clear a subscription probe (%s)", type(error).__name__)
