"""The audit log in MongoDB: the outbox, sealing events into the hash chain, verifying, exporting
and expiring them.

AuditEvents and the server's Provenance are ordinary current-resource documents in
``resources.AuditEvent`` and ``resources.Provenance`` (same layout as the repository's, so the
normal search serves them), written here rather than through ``ResourceRepository`` because they
are append-only records: no guard, no hooks, no version but the first, and no ``refs`` (an audit
record that names a Patient must not stop the Patient from being deleted). Provenance also gets
its history entry, as any resource; AuditEvents do not (they have one version, and the system
``_history`` would otherwise be flooded by the log of its own reads).

Two ways in:

* ``outbox``: a write's AuditEvent and Provenance, inserted in the write's own transaction (one
  small insert: what it costs the write), so they commit or vanish with it.
* ``append``: one transaction that stores a batch of events made outside any write (reads,
  searches, refused requests), moves everything waiting in the outbox into its collections, gives
  every new event its sequence number and link, and advances the chain head. Concurrent writers
  (several workers) conflict on the head and retry, so the chain stays one line.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from fhir_server.store import documents as f
from fhir_server.store.audit_chain import GENESIS, ChainKey
from fhir_server.store.repository import Indexer, Session, new_id, now

logger = logging.getLogger(__name__)

T = TypeVar("T")
Document = dict[str, Any]
AUDIT_EVENT: Final = "AuditEvent"
PROVENANCE: Final = "Provenance"
OUTBOX_BATCH: Final = 500  # outbox entries moved per append (the rest wait for the next one)


def fhir_instant_to_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class VerifyReport:
    """What ``verify`` found: ``problems`` is empty when the chain is intact."""

    checked: int = 0
    first: int | None = None
    last: int = 0
    head_link: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


class AuditLog:
    def __init__(self, *, db: AsyncDatabase[Document], indexer: Indexer, key: ChainKey) -> None:
        self.db = db
        self.indexer = indexer
        self.key = key

    @property
    def events(self) -> Any:
        return self.db[f.resource_collection_name(AUDIT_EVENT)]

    @property
    def _outbox(self) -> Any:
        return self.db[f.AUDIT_OUTBOX_COLLECTION]

    @property
    def _chain(self) -> Any:
        return self.db[f.AUDIT_CHAIN_COLLECTION]

    async def _transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        async with self.db.client.start_session() as session:
            return await session.with_transaction(
                work,
                read_concern=ReadConcern("snapshot"),
                write_concern=WriteConcern("majority", j=True),
            )

    # ----- in a write's transaction -------------------------------------------------------------

    async def outbox(self, *, event: Document, provenance: Document | None, session: Session) -> None:
        """Keep a write's AuditEvent (and its Provenance) in the write's own transaction."""
        entry: Document = {
            f.ID: event["id"],
            f.O_MOMENT: now(),
            f.O_EVENT: event,
            f.A_MAC: self.key.mac(event),
        }
        if provenance is not None:
            entry[f.O_PROVENANCE] = provenance
        await self._outbox.insert_one(entry, session=session)

    async def outbox_client_provenance(
        self, *, provenance: Document, target: Document, session: Session
    ) -> None:
        """A client's Provenance (``X-Provenance``): one per transaction, a target per write."""
        await self._outbox.update_one(
            {f.ID: provenance["id"]},
            {
                "$setOnInsert": {f.O_MOMENT: now(), f.O_PROVENANCE: provenance},
                "$push": {f.O_TARGETS: target},
            },
            upsert=True,
            session=session,
        )

    # ----- the audit writer ---------------------------------------------------------------------

    async def append(self, events: list[Document]) -> int:
        """Store ``events`` and whatever waits in the outbox, sealed into the chain, in one
        transaction. Returns how many AuditEvents were stored."""

        async def work(session: Session) -> int:
            waiting = [
                doc
                async for doc in self._outbox.find({}, session=session)
                .sort(f.O_MOMENT, ASCENDING)
                .limit(OUTBOX_BATCH)
            ]
            fresh = [(event, self.key.mac(event)) for event in events]
            fresh += [(doc[f.O_EVENT], doc[f.A_MAC]) for doc in waiting if f.O_EVENT in doc]
            provenances = [_provenance_of(doc) for doc in waiting if f.O_PROVENANCE in doc]
            if fresh:
                await self._seal(fresh, session)
            if provenances:
                await self._store_provenances(provenances, session)
            if waiting:
                await self._outbox.delete_many(
                    {f.ID: {"$in": [doc[f.ID] for doc in waiting]}}, session=session
                )
            return len(fresh)

        if not events and await self._outbox.estimated_document_count() == 0:
            return 0
        return await self._transaction(work)

    async def outbox_size(self) -> int:
        return int(await self._outbox.count_documents({}))

    async def _head(self, session: Session | None = None) -> Document:
        head = await self._chain.find_one({f.ID: f.C_HEAD}, session=session)
        return head or {f.C_SEQ: 0, f.C_LINK: GENESIS, f.C_FLOOR: 1, f.C_FLOOR_LINK: GENESIS}

    async def _seal(self, events: list[tuple[Document, str]], session: Session) -> None:
        head = await self._head(session)
        seq, link = head[f.C_SEQ], head[f.C_LINK]
        docs = []
        for event, mac in events:
            seq += 1
            link = self.key.link(link, mac)
            doc = self._document(event, with_references=False)
            doc.update({f.A_SEQ: seq, f.A_MAC: mac, f.A_LINK: link})
            docs.append(doc)
        await self.events.insert_many(docs, session=session)
        # Compare-and-set on the head: a concurrent writer that sealed first makes this conflict.
        result = await self._chain.update_one(
            {f.ID: f.C_HEAD, f.C_SEQ: head[f.C_SEQ]},
            {
                "$set": {f.C_SEQ: seq, f.C_LINK: link},
                "$setOnInsert": {f.C_FLOOR: head[f.C_FLOOR], f.C_FLOOR_LINK: head[f.C_FLOOR_LINK]},
            },
            upsert=head[f.C_SEQ] == 0,
            session=session,
        )
        if result.matched_count == 0 and result.upserted_id is None:
            raise RuntimeError("the audit chain head moved during sealing")

    async def _store_provenances(self, provenances: list[Document], session: Session) -> None:
        current = [self._document(resource, with_references=False) for resource in provenances]
        await self.db[f.resource_collection_name(PROVENANCE)].insert_many(current, session=session)
        history = [
            {
                f.ID: f.history_id(PROVENANCE, doc[f.ID], 1),
                f.H_TYPE: PROVENANCE,
                f.H_ID: doc[f.ID],
                f.VERSION: 1,
                f.LAST_UPDATED: doc[f.LAST_UPDATED],
                f.H_METHOD: "POST",
                f.RESOURCE: doc[f.RESOURCE],
            }
            for doc in current
        ]
        await self.db[f.HISTORY_COLLECTION].insert_many(history, session=session)

    def _document(self, resource: Document, *, with_references: bool) -> Document:
        moment = fhir_instant_to_datetime(resource["meta"]["lastUpdated"])
        return {
            f.ID: resource["id"],
            f.VERSION: 1,
            f.LAST_UPDATED: moment,
            f.DELETED: False,
            f.RESOURCE: resource,
            f.INDEX: self.indexer.extract(resource),
            f.COMPARTMENTS: self.indexer.compartments(resource),
            f.REFERENCES: [],
        }

    # ----- questions the writer asks -------------------------------------------------------------

    async def compartments_of(self, resource_type: str, ids: list[str]) -> dict[str, list[str]]:
        """The stored compartments of these resources (for results shaped by ``_elements``)."""
        cursor = self.db[f.resource_collection_name(resource_type)].find(
            {f.ID: {"$in": ids}}, {f.COMPARTMENTS: 1}
        )
        return {doc[f.ID]: list(doc.get(f.COMPARTMENTS) or []) async for doc in cursor}

    # ----- verification, export, retention -------------------------------------------------------

    async def verify(self, *, batch_size: int = 1000) -> VerifyReport:
        """Walk the chain from the oldest kept event to the head, recomputing every mac and link."""
        head = await self._head()
        report = VerifyReport(first=None, last=0, head_link=head[f.C_LINK])
        expected = head[f.C_FLOOR]
        previous = head[f.C_FLOOR_LINK]
        unsealed = await self.events.count_documents({f.A_SEQ: {"$exists": False}})
        if unsealed:
            report.problems.append(
                f"{unsealed} AuditEvent(s) carry no chain position (added outside the log)"
            )
        stale = await self.events.count_documents({f.A_SEQ: {"$lt": expected}})
        if stale:
            report.problems.append(f"{stale} AuditEvent(s) sit before the oldest one kept (put back?)")
        # Events sealed after the head was read (a server still running) are left for next time.
        cursor = self.events.find(
            {f.A_SEQ: {"$gte": expected, "$lte": head[f.C_SEQ]}},
            {f.RESOURCE: 1, f.A_SEQ: 1, f.A_MAC: 1, f.A_LINK: 1},
            sort=[(f.A_SEQ, ASCENDING)],
            batch_size=batch_size,
        )
        async for doc in cursor:
            seq = doc.get(f.A_SEQ)
            if report.first is None:
                report.first = seq
            if seq != expected:
                gap = f"events {expected}..{seq - 1} are missing" if seq > expected else "a repeated position"
                report.problems.append(f"{gap} (seq {seq}, id {doc[f.ID]})")
            mac = self.key.mac(doc.get(f.RESOURCE) or {})
            if mac != doc.get(f.A_MAC):
                report.problems.append(f"event {seq} (id {doc[f.ID]}) was changed after it was recorded")
            link = self.key.link(previous, mac)
            if link != doc.get(f.A_LINK):
                report.problems.append(f"event {seq} (id {doc[f.ID]}) does not follow its predecessor")
            previous = doc.get(f.A_LINK) or link
            expected = seq + 1
            report.checked += 1
            report.last = seq
            if len(report.problems) > 100:
                report.problems.append("(stopped after 100 problems)")
                return report
        if expected - 1 != head[f.C_SEQ]:
            report.problems.append(
                f"the chain head names event {head[f.C_SEQ]}, the newest event found is {expected - 1}"
            )
        elif previous != head[f.C_LINK]:
            report.problems.append("the chain head does not match the newest event")
        return report

    async def export(self, *, since: datetime, until: datetime) -> AsyncIterator[Document]:
        """AuditEvents recorded in [since, until), oldest first."""
        cursor = self.events.find(
            {f.LAST_UPDATED: {"$gte": since, "$lt": until}},
            {f.RESOURCE: 1},
            sort=[(f.LAST_UPDATED, ASCENDING), (f.ID, ASCENDING)],
            batch_size=1000,
        )
        async for doc in cursor:
            yield doc[f.RESOURCE]

    async def expire(self, *, before: datetime, batch_size: int = 1000) -> int:
        """Remove the oldest events recorded before ``before``, as a prefix of the chain: removal
        stops at the first event that is younger, so nothing younger is ever removed (an old event
        sealed after a younger one waits until that one expires too). Returns how many went."""
        removed = 0
        while True:

            async def work(session: Session) -> int:
                head = await self._head(session)
                floor = head[f.C_FLOOR]
                cursor = self.events.find(
                    {f.A_SEQ: {"$gte": floor}},
                    {f.A_SEQ: 1, f.A_LINK: 1, f.LAST_UPDATED: 1},
                    sort=[(f.A_SEQ, ASCENDING)],
                    limit=batch_size,
                    session=session,
                )
                prefix: list[Document] = []
                async for doc in cursor:
                    if doc[f.LAST_UPDATED] >= before:
                        break
                    prefix.append(doc)
                if not prefix:
                    return 0
                last = prefix[-1]
                await self.events.delete_many(
                    {f.A_SEQ: {"$gte": floor, "$lte": last[f.A_SEQ]}}, session=session
                )
                await self._chain.update_one(
                    {f.ID: f.C_HEAD},
                    {"$set": {f.C_FLOOR: last[f.A_SEQ] + 1, f.C_FLOOR_LINK: last[f.A_LINK]}},
                    session=session,
                )
                return len(prefix)

            done = await self._transaction(work)
            removed += done
            if done < batch_size:
                return removed


def _provenance_of(doc: Document) -> Document:
    """An outbox entry's Provenance, with the targets a client's Provenance gathered."""
    provenance = dict(doc[f.O_PROVENANCE])
    targets = doc.get(f.O_TARGETS)
    if targets:
        provenance["target"] = [*provenance.get("target", []), *targets]
    return provenance


def event_id() -> str:
    return new_id()
