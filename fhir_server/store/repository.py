"""ResourceRepository: versioned resources in MongoDB. The only code that writes resources.

Every write runs inside a MongoDB transaction: the current document, its history entry and any
claim documents change together or not at all. Optimistic locking: a write names the version it
replaces, so racing writers conflict instead of losing updates.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from fhir_server.context import Principal, RequestContext
from fhir_server.errors import Conflict, Gone, NotFound, PreconditionFailed
from fhir_server.store import documents as f
from fhir_server.store.references import outgoing_references
from fhir_server.store.schema import Schema

logger = logging.getLogger(__name__)

T = TypeVar("T")
Document = dict[str, Any]
Session = AsyncClientSession


class Indexer(Protocol):
    """Turns a resource into its search index and compartment memberships (fhir_server.search)."""

    def extract(self, resource: dict[str, Any]) -> dict[str, Any]: ...

    def compartments(self, resource: dict[str, Any]) -> list[str]: ...


@dataclass(frozen=True)
class WriteContext:
    """Who writes and in which transaction: every repository write, its guard and its hooks get it.

    ``cause`` is set on a *consequence*: a write the server's own rules make because of the
    caller's write (a Slot turning busy when an Appointment books it). It runs as the server
    (``Principal.system()``) and names the caller whose write caused it.
    """

    ctx: RequestContext
    session: Session
    cause: RequestContext | None = None

    def consequence(self) -> WriteContext:
        """The context of a write the server makes because of this one."""
        return WriteContext(
            ctx=replace(self.ctx, principal=Principal.system()),
            session=self.session,
            cause=self.cause or self.ctx,
        )


@dataclass(frozen=True)
class Change:
    """One write, as hooks see it: ``previous`` is the replaced content (None on create),
    ``current`` the new one (None on delete)."""

    resource_type: str
    resource_id: str
    previous: dict[str, Any] | None
    current: dict[str, Any] | None
    method: str  # POST, PUT, PATCH or DELETE


class WriteHook(Protocol):
    """Runs inside the write's transaction, after the new version is known and before commit.
    Raising aborts the whole transaction."""

    async def __call__(self, wctx: WriteContext, change: Change) -> None: ...


class WriteGuard(Protocol):
    """Decides, before anything is written, whether the caller may make this write at all, and
    what is stored (the caller's content, with what it may not see kept as it was).

    ``existing`` is the current version (a deletion included) or None when the id was never used;
    ``incoming`` the new content (None for a delete); ``method`` POST, PUT, PATCH or DELETE.
    Returns the content to store (None for a delete).
    """

    async def __call__(
        self,
        wctx: WriteContext,
        *,
        resource_type: str,
        resource_id: str,
        existing: StoredResource | None,
        incoming: dict[str, Any] | None,
        method: str,
    ) -> dict[str, Any] | None: ...


async def _allow_all(
    wctx: WriteContext,
    *,
    resource_type: str,
    resource_id: str,
    existing: StoredResource | None,
    incoming: dict[str, Any] | None,
    method: str,
) -> dict[str, Any] | None:
    return incoming


@dataclass(frozen=True)
class StoredResource:
    resource_type: str
    id: str
    version: int
    last_updated: datetime
    resource: dict[str, Any] | None  # None for a deletion
    method: str | None = None  # set on history entries

    @property
    def deleted(self) -> bool:
        return self.resource is None

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def location_path(self) -> str:
        return f"{self.resource_type}/{self.id}/_history/{self.version}"


@dataclass(frozen=True)
class WriteResult:
    stored: StoredResource
    created: bool  # a new resource (201) rather than a new version of an existing one
    changed: bool = True  # False: a no-op update or a conditional create that matched


async def read_current_resource(
    db: AsyncDatabase[Document], resource_type: str, resource_id: str, session: Session | None = None
) -> dict[str, Any] | None:
    """The current content of one resource (None when absent or deleted), for code that holds a
    database but no repository (the command line's account tools)."""
    found = await db[f.resource_collection_name(resource_type)].find_one(
        {f.ID: resource_id, f.DELETED: {"$ne": True}}, {f.RESOURCE: 1}, session=session
    )
    return None if found is None else found.get(f.RESOURCE)


def instant(moment: datetime) -> str:
    """A FHIR instant with millisecond precision in UTC."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


def _content_without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """The content that decides whether an update changes anything (server-set meta left out)."""
    content = dict(resource)
    meta = dict(content.pop("meta", None) or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        content["meta"] = meta
    return content


def _stamp(resource: dict[str, Any], resource_id: str, version: int, moment: datetime) -> dict[str, Any]:
    stamped = dict(resource)
    stamped["id"] = resource_id
    meta = dict(stamped.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = instant(moment)
    stamped["meta"] = meta
    # Keep resourceType first: clients and humans read it first.
    return {"resourceType": stamped.pop("resourceType"), **stamped}


def _stored(resource_type: str, doc: Document) -> StoredResource:
    return StoredResource(
        resource_type=resource_type,
        id=doc[f.ID],
        version=doc[f.VERSION],
        last_updated=doc[f.LAST_UPDATED],
        resource=None if doc.get(f.DELETED) else doc[f.RESOURCE],
    )


def _stored_history(doc: Document) -> StoredResource:
    return StoredResource(
        resource_type=doc[f.H_TYPE],
        id=doc[f.H_ID],
        version=doc[f.VERSION],
        last_updated=doc[f.LAST_UPDATED],
        resource=doc.get(f.RESOURCE),
        method=doc.get(f.H_METHOD),
    )


class ResourceRepository:
    """Versioned CRUD and history over ``resources.<Type>`` and ``history`` collections.

    Every write names a :class:`WriteContext`; the ``guard`` sees it before anything is written
    (the pipeline installs the access gate there), then the write and its hooks run in its session.
    """

    def __init__(
        self,
        *,
        db: AsyncDatabase[Document],
        indexer: Indexer,
        schema: Schema,
        base_url: str,
    ) -> None:
        self.db = db
        self.indexer = indexer
        self.schema = schema
        self.base_url = base_url.rstrip("/")
        self.guard: WriteGuard = _allow_all
        self.hooks: list[WriteHook] = []

    # ----- collections -------------------------------------------------------------------------

    def collection(self, resource_type: str) -> AsyncCollection[Document]:
        return self.db[f.resource_collection_name(resource_type)]

    @property
    def _history(self) -> AsyncCollection[Document]:
        return self.db[f.HISTORY_COLLECTION]

    async def ensure_collections(self, resource_types: Iterable[str]) -> None:
        """Each type's collection and indexes exist before first use (never inside a transaction)."""
        await self.schema.ready(resource_types)

    async def known_types(self) -> list[str]:
        """Resource types that have a collection (for system-wide queries)."""
        return await self.schema.stored_types()

    # ----- transactions --------------------------------------------------------------------------

    async def transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``work`` in one MongoDB transaction, retried on transient conflicts."""
        async with self.db.client.start_session() as session:
            return await session.with_transaction(
                work,
                read_concern=ReadConcern("snapshot"),
                write_concern=WriteConcern("majority", j=True),
            )

    async def claim(self, key: str, session: Session) -> None:
        """Write a claim document: two transactions claiming the same key cannot both commit."""
        await self.db[f.CLAIMS_COLLECTION].update_one(
            {"_id": key}, {"$inc": {"n": 1}, "$set": {"k": key}}, upsert=True, session=session
        )

    # ----- reads ---------------------------------------------------------------------------------

    async def current(
        self, *, resource_type: str, resource_id: str, session: Session | None = None
    ) -> StoredResource | None:
        """The current version (a deletion included), or None when the id was never used."""
        doc = await self.collection(resource_type).find_one(
            {f.ID: resource_id}, {f.INDEX: 0, f.COMPARTMENTS: 0, f.REFERENCES: 0}, session=session
        )
        return None if doc is None else _stored(resource_type, doc)

    async def read(
        self, *, resource_type: str, resource_id: str, session: Session | None = None
    ) -> StoredResource:
        stored = await self.current(resource_type=resource_type, resource_id=resource_id, session=session)
        if stored is None:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        if stored.deleted:
            raise Gone(f"{resource_type}/{resource_id} was deleted", headers={"ETag": stored.etag})
        return stored

    async def read_many(
        self, *, resource_type: str, resource_ids: Iterable[str], session: Session | None = None
    ) -> list[StoredResource]:
        """Current, non-deleted versions of these ids (missing ones left out)."""
        cursor = self.collection(resource_type).find(
            {f.ID: {"$in": list(resource_ids)}, f.DELETED: {"$ne": True}},
            {f.INDEX: 0, f.COMPARTMENTS: 0, f.REFERENCES: 0},
            session=session,
        )
        return [_stored(resource_type, doc) async for doc in cursor]

    async def all_current(self, resource_type: str) -> AsyncIterator[dict[str, Any]]:
        """Every current resource of a type (start-up loading of small types, e.g. SearchParameter)."""
        cursor = self.collection(resource_type).find({f.DELETED: {"$ne": True}}, {f.RESOURCE: 1})
        async for doc in cursor:
            yield doc[f.RESOURCE]

    async def version(
        self, *, resource_type: str, resource_id: str, version: int, session: Session | None = None
    ) -> StoredResource | None:
        """One version from history (a deletion included), or None when there is no such version."""
        doc = await self._history.find_one(
            {f.ID: f.history_id(resource_type, resource_id, version)}, session=session
        )
        return None if doc is None else _stored_history(doc)

    async def vread(
        self, *, resource_type: str, resource_id: str, version: int, session: Session | None = None
    ) -> StoredResource:
        stored = await self.version(
            resource_type=resource_type, resource_id=resource_id, version=version, session=session
        )
        if stored is None:
            raise NotFound(f"{resource_type}/{resource_id} has no version {version}")
        if stored.deleted:
            raise Gone(f"version {version} of {resource_type}/{resource_id} is a deletion")
        return stored

    async def versions(
        self, *, resource_type: str, resource_id: str, session: Session | None = None
    ) -> list[StoredResource]:
        """Every stored version of one resource, oldest first."""
        cursor = self._history.find({f.H_TYPE: resource_type, f.H_ID: resource_id}, session=session).sort(
            f.VERSION, ASCENDING
        )
        return [_stored_history(doc) async for doc in cursor]

    # ----- writes --------------------------------------------------------------------------------

    async def create(
        self,
        *,
        resource_type: str,
        resource: dict[str, Any],
        wctx: WriteContext,
        resource_id: str | None = None,
    ) -> WriteResult:
        """Store a new resource (server-assigned id unless given). Runs in ``wctx``'s transaction."""
        if resource_id is None:
            resource_id = new_id()
            resource = await self._guarded(wctx, resource_type, resource_id, None, resource, "POST")
        return await self._insert(resource_type, resource_id, resource, wctx, "POST")

    async def _guarded(
        self,
        wctx: WriteContext,
        resource_type: str,
        resource_id: str,
        existing: StoredResource | None,
        resource: dict[str, Any],
        method: str,
    ) -> dict[str, Any]:
        stored = await self.guard(
            wctx,
            resource_type=resource_type,
            resource_id=resource_id,
            existing=existing,
            incoming=resource,
            method=method,
        )
        return resource if stored is None else stored

    async def _insert(
        self, resource_type: str, resource_id: str, resource: dict[str, Any], wctx: WriteContext, method: str
    ) -> WriteResult:
        moment = now()
        stamped = _stamp(resource, resource_id, 1, moment)
        try:
            await self.collection(resource_type).insert_one(
                self._document(stamped, 1, moment), session=wctx.session
            )
        except DuplicateKeyError:
            raise Conflict(f"{resource_type}/{resource_id} already exists") from None
        await self._record(resource_type, resource_id, 1, moment, method, stamped, wctx.session)
        await self._run_hooks(wctx, Change(resource_type, resource_id, None, stamped, method))
        return WriteResult(StoredResource(resource_type, resource_id, 1, moment, stamped), created=True)

    async def update(
        self,
        *,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        wctx: WriteContext,
        expected_version: int | None = None,
        method: str = "PUT",
    ) -> WriteResult:
        """Replace the current version (or create with this id). A no-op update keeps the version."""
        existing = await self.current(
            resource_type=resource_type, resource_id=resource_id, session=wctx.session
        )
        return await self.replace(
            existing=existing,
            resource_type=resource_type,
            resource_id=resource_id,
            resource=resource,
            wctx=wctx,
            expected_version=expected_version,
            method=method,
        )

    async def replace(
        self,
        *,
        existing: StoredResource | None,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        wctx: WriteContext,
        expected_version: int | None = None,
        method: str = "PUT",
    ) -> WriteResult:
        """``update`` when the caller has just read ``existing`` (the current version, a deletion,
        or None) in this transaction: saves reading it again."""
        resource = await self._guarded(wctx, resource_type, resource_id, existing, resource, method)
        if expected_version is not None and (existing is None or existing.version != expected_version):
            found = "no version" if existing is None else f"version {existing.version}"
            raise PreconditionFailed(
                f"If-Match expected version {expected_version} of {resource_type}/{resource_id}, "
                f"found {found}"
            )
        if existing is None:
            return await self._insert(resource_type, resource_id, resource, wctx, method)
        if existing.resource is not None and _content_without_meta(
            existing.resource
        ) == _content_without_meta({**resource, "id": resource_id}):
            return WriteResult(existing, created=False, changed=False)
        version = existing.version + 1
        moment = now()
        stamped = _stamp(resource, resource_id, version, moment)
        result = await self.collection(resource_type).replace_one(
            {f.ID: resource_id, f.VERSION: existing.version},
            self._document(stamped, version, moment),
            session=wctx.session,
        )
        if result.matched_count != 1:  # a concurrent writer won; the transaction retry re-reads
            raise PreconditionFailed(f"{resource_type}/{resource_id} changed concurrently")
        await self._record(resource_type, resource_id, version, moment, method, stamped, wctx.session)
        await self._run_hooks(wctx, Change(resource_type, resource_id, existing.resource, stamped, method))
        # Re-creating a deleted resource is a creation for the client (201), version numbers go on.
        return WriteResult(
            StoredResource(resource_type, resource_id, version, moment, stamped),
            created=existing.resource is None,
        )

    async def delete(
        self,
        *,
        resource_type: str,
        resource_id: str,
        wctx: WriteContext,
        expected_version: int | None = None,
    ) -> StoredResource | None:
        """Soft delete: a tombstone version. Returns it, or None when there was nothing to delete."""
        existing = await self.current(
            resource_type=resource_type, resource_id=resource_id, session=wctx.session
        )
        if expected_version is not None and (existing is None or existing.version != expected_version):
            raise PreconditionFailed(
                f"If-Match expected version {expected_version} of {resource_type}/{resource_id}"
            )
        if existing is None or existing.deleted:
            return None
        await self.guard(
            wctx,
            resource_type=resource_type,
            resource_id=resource_id,
            existing=existing,
            incoming=None,
            method="DELETE",
        )
        version = existing.version + 1
        moment = now()
        tombstone: Document = {
            f.ID: resource_id,
            f.VERSION: version,
            f.LAST_UPDATED: moment,
            f.DELETED: True,
            f.RESOURCE: None,
            f.INDEX: {},
            f.COMPARTMENTS: [],
            f.REFERENCES: [],
        }
        result = await self.collection(resource_type).replace_one(
            {f.ID: resource_id, f.VERSION: existing.version}, tombstone, session=wctx.session
        )
        if result.matched_count != 1:
            raise PreconditionFailed(f"{resource_type}/{resource_id} changed concurrently")
        await self._record(resource_type, resource_id, version, moment, "DELETE", None, wctx.session)
        await self._run_hooks(wctx, Change(resource_type, resource_id, existing.resource, None, "DELETE"))
        return StoredResource(resource_type, resource_id, version, moment, None)

    async def expunge(
        self, *, resource_type: str, resource_id: str, session: Session
    ) -> list[StoredResource]:
        """Remove a resource and every version of it for good; returns the versions removed."""
        removed = await self.versions(resource_type=resource_type, resource_id=resource_id, session=session)
        await self._history.delete_many({f.H_TYPE: resource_type, f.H_ID: resource_id}, session=session)
        await self.collection(resource_type).delete_one({f.ID: resource_id}, session=session)
        return removed

    async def referencing(
        self, *, target: str, session: Session | None = None, limit: int = 10
    ) -> list[tuple[str, str]]:
        """(type, id) of current resources that reference ``target`` ("Type/id"), itself left out."""
        found: list[tuple[str, str]] = []
        for resource_type in await self.known_types():
            cursor = self.collection(resource_type).find(
                {f.REFERENCES: target, f.DELETED: {"$ne": True}}, {f.ID: 1}, session=session, limit=limit
            )
            found.extend(
                [
                    (resource_type, doc[f.ID])
                    async for doc in cursor
                    if f"{resource_type}/{doc[f.ID]}" != target
                ]
            )
            if len(found) >= limit:
                break
        return found[:limit]

    async def reindex(self, *, resource_type: str, batch_size: int = 500) -> int:
        """Re-extract the search index and compartments of every current resource of a type.

        In ``_id`` order, in batches; a document is rewritten only if its version is still the one
        read, so a concurrent write (which stored a fresh index itself) wins. Returns the count."""
        await self.schema.refresh(resource_type)
        collection = self.collection(resource_type)
        done = 0
        last_id: str | None = None
        while True:
            query: Document = {f.DELETED: {"$ne": True}}
            if last_id is not None:
                query[f.ID] = {"$gt": last_id}
            cursor = collection.find(
                query, {f.RESOURCE: 1, f.VERSION: 1}, sort=[(f.ID, ASCENDING)], limit=batch_size
            )
            batch = [doc async for doc in cursor]
            if not batch:
                return done
            updates = [
                UpdateOne(
                    {f.ID: doc[f.ID], f.VERSION: doc.get(f.VERSION)},
                    {
                        "$set": {
                            f.INDEX: self.indexer.extract(doc[f.RESOURCE]),
                            f.COMPARTMENTS: self.indexer.compartments(doc[f.RESOURCE]),
                        }
                    },
                )
                for doc in batch
                if doc.get(f.RESOURCE)
            ]
            if updates:
                result = await collection.bulk_write(updates, ordered=False)
                done += result.modified_count
            last_id = batch[-1][f.ID]

    # ----- history -------------------------------------------------------------------------------

    async def history(
        self,
        *,
        resource_type: str | None,
        resource_id: str | None,
        since: datetime | None,
        at: datetime | None,
        count: int,
        after: tuple[datetime, str] | None,
    ) -> list[StoredResource]:
        """Versions newest first, keyset-paged by (lastUpdated, history id) strictly before ``after``."""
        query: Document = {}
        if resource_type is not None:
            query[f.H_TYPE] = resource_type
        if resource_id is not None:
            query[f.H_ID] = resource_id
        moment: Document = {}
        if since is not None:
            moment["$gte"] = since
        if at is not None:
            moment["$lte"] = at
        if moment:
            query[f.LAST_UPDATED] = moment
        if after is not None:
            lu, hid = after
            query["$or"] = [{f.LAST_UPDATED: {"$lt": lu}}, {f.LAST_UPDATED: lu, f.ID: {"$lt": hid}}]
        cursor = (
            self._history.find(query).sort([(f.LAST_UPDATED, DESCENDING), (f.ID, DESCENDING)]).limit(count)
        )
        versions = [_stored_history(doc) async for doc in cursor]
        if at is not None:
            versions = self._current_at(versions)
        return versions

    @staticmethod
    def history_key(version: StoredResource) -> str:
        """The keyset position of a history entry (its history id), for paging."""
        return f.history_id(version.resource_type, version.id, version.version)

    @staticmethod
    def _current_at(versions: list[StoredResource]) -> list[StoredResource]:
        """With ``_at``: only the newest version of each resource at that moment."""
        seen: set[tuple[str, str]] = set()
        kept = []
        for version in versions:
            key = (version.resource_type, version.id)
            if key not in seen:
                seen.add(key)
                kept.append(version)
        return kept

    def document_of(self, resource: dict[str, Any], version: int, moment: datetime) -> Document:
        """The stored shape of a version, search index included (to run a search filter on a past
        version, as subscriptions do for a topic's ``previous`` criteria)."""
        return self._document(resource, version, moment)

    # ----- internals -----------------------------------------------------------------------------

    def _document(self, resource: dict[str, Any], version: int, moment: datetime) -> Document:
        return {
            f.ID: resource["id"],
            f.VERSION: version,
            f.LAST_UPDATED: moment,
            f.DELETED: False,
            f.RESOURCE: resource,
            f.INDEX: self.indexer.extract(resource),
            f.COMPARTMENTS: self.indexer.compartments(resource),
            f.REFERENCES: outgoing_references(resource, self.base_url),
        }

    async def _record(
        self,
        resource_type: str,
        resource_id: str,
        version: int,
        moment: datetime,
        method: str,
        resource: dict[str, Any] | None,
        session: Session,
    ) -> None:
        entry: Document = {
            f.ID: f.history_id(resource_type, resource_id, version),
            f.H_TYPE: resource_type,
            f.H_ID: resource_id,
            f.VERSION: version,
            f.LAST_UPDATED: moment,
            f.H_METHOD: method,
            f.RESOURCE: resource,
        }
        try:
            await self._history.insert_one(entry, session=session)
        except DuplicateKeyError:
            raise PreconditionFailed(f"{resource_type}/{resource_id} changed concurrently") from None

    async def _run_hooks(self, wctx: WriteContext, change: Change) -> None:
        for hook in self.hooks:
            await hook(wctx, change)
