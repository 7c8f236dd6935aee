"""The audit writer: events made outside a write's transaction wait in memory at most
``audit_flush_interval`` seconds, then go to the database in one transaction per batch.

Reads are the bulk of the trail; writing each one synchronously would cost every read a database
transaction. Here a read only appends to a list, and the *loss window*, the events a ``kill -9``
can take with it, is what was appended since the last flush: at most one interval's worth, and
never more than ``audit_max_pending`` events (beyond that, requests wait for the flush: the trail
slows the server down rather than lose events). Each flush also moves the writes' AuditEvents and
Provenance from the outbox (committed with the writes) into their collections, so they become
searchable within the same interval; at start-up the outbox left by a crash is drained first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fhir_server.audit.events import Server
from fhir_server.search.shaping import SUBSETTED
from fhir_server.store.audit_log import AuditLog
from fhir_server.store.repository import Indexer

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
SWEEP_SECONDS = 5.0  # how often an idle writer looks for outbox entries left by other processes


@dataclass
class BuildContext:
    """What turning pending facts into AuditEvents needs."""

    server: Server
    indexer: Indexer
    stored: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # compartments from the database

    def patients_of(self, resource: JsonDict) -> tuple[str, ...]:
        """The patients whose data the resource is (the patient compartments it belongs to)."""
        resource_type, resource_id = resource.get("resourceType"), resource.get("id")
        if subsetted(resource) and isinstance(resource_type, str) and isinstance(resource_id, str):
            # _elements/_summary may have cut the element that names the patient: ask the database.
            compartments = self.stored.get((resource_type, resource_id), [])
        else:
            compartments = self.indexer.compartments(resource)
        return tuple(c for c in compartments if c.startswith("Patient/"))


def subsetted(resource: JsonDict) -> bool:
    meta = resource.get("meta")
    tags = meta.get("tag") if isinstance(meta, dict) else None
    return isinstance(tags, list) and any(
        isinstance(tag, dict) and tag.get("code") == SUBSETTED["code"] for tag in tags
    )


class Pending(Protocol):
    """Facts recorded on the request path, turned into AuditEvents by the writer."""

    def subsetted(self) -> Iterable[tuple[str, str]]:
        """(type, id) of returned resources whose patients only the database can tell."""
        ...

    def build(self, context: BuildContext) -> list[JsonDict]: ...


class AuditWriter:
    def __init__(
        self,
        *,
        log: AuditLog,
        server: Server,
        indexer: Indexer,
        interval: float,
        max_pending: int,
        prepare: Callable[[], Awaitable[None]],
    ) -> None:
        self.log = log
        self._prepare = prepare  # the collections and indexes exist (never inside a transaction)
        self._prepared = False
        self.server = server
        self.indexer = indexer
        self.interval = interval
        self.max_pending = max_pending
        self._pending: list[Pending] = []
        self._outbox_waiting = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_sweep = 0.0
        self.stored = 0  # AuditEvents written by this writer (for tests and metrics)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def record(self, item: Pending) -> None:
        """Queue facts for the next flush (waiting for a flush when too many are queued)."""
        self._pending.append(item)
        self._ensure_running()
        if len(self._pending) >= self.max_pending:
            await self.flush()

    def outbox_written(self) -> None:
        """A write put its AuditEvent in the outbox: move it at the next tick."""
        self._outbox_waiting = True
        self._ensure_running()

    async def start(self) -> None:
        """Drain what a previous run left in the outbox, then run the periodic flush."""
        while await self.log.outbox_size():
            await self.flush(force=True)
        self._ensure_running()

    async def close(self) -> None:
        """Stop the periodic flush (letting a flush in progress finish) and write what is queued."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await task
        await self.flush(force=True)

    def _ensure_running(self) -> None:
        if self._stopping.is_set() or (self._task is not None and not self._task.done()):
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the next record starts it
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def _run(self) -> None:
        # Never cancelled: a flush cut off while committing could not tell whether it was stored.
        # Ticks are ``interval`` apart from start to start, so a slow flush is not followed by a
        # whole interval more: what waits in memory is at most one interval plus one flush old.
        tick = time.monotonic()
        while not self._stopping.is_set():
            tick = max(tick + self.interval, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(0.0, tick - time.monotonic()))
            if self._stopping.is_set():
                return
            sweep = time.monotonic() - self._last_sweep > SWEEP_SECONDS
            if not (self._pending or self._outbox_waiting or sweep):
                continue
            try:
                started = time.monotonic()
                stored = await self.flush(force=sweep)
                logger.debug(
                    "audit: %d events written in %.0f ms", stored, (time.monotonic() - started) * 1000
                )
            except Exception:  # the database may be away: keep the events, try again next tick
                logger.exception("writing the audit trail failed; %d events wait", len(self._pending))

    async def flush(self, *, force: bool = False) -> int:
        """Write queued events and drain the outbox; on failure the events stay queued."""
        async with self._lock:
            items, self._pending = self._pending, []
            outbox, self._outbox_waiting = self._outbox_waiting, False
            if not items and not outbox and not force:
                return 0
            self._last_sweep = time.monotonic()
            try:
                if not self._prepared:
                    await self._prepare()
                    self._prepared = True
                context = BuildContext(self.server, self.indexer, await self._stored_compartments(items))
                events = [event for item in items for event in item.build(context)]
                stored = await self.log.append(events)
            except BaseException:
                self._pending[:0] = items
                self._outbox_waiting = self._outbox_waiting or outbox
                raise
            self.stored += stored
            return stored

    async def _stored_compartments(self, items: list[Pending]) -> dict[tuple[str, str], list[str]]:
        wanted: dict[str, set[str]] = {}
        for item in items:
            for resource_type, resource_id in item.subsetted():
                wanted.setdefault(resource_type, set()).add(resource_id)
        found: dict[tuple[str, str], list[str]] = {}
        for resource_type, ids in wanted.items():
            for resource_id, compartments in (
                await self.log.compartments_of(resource_type, sorted(ids))
            ).items():
                found[(resource_type, resource_id)] = compartments
        return found
