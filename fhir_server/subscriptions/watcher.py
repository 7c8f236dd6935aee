"""The change-stream watcher: every committed version, matched against the subscriptions, queued.

One process at a time watches (a lease in MongoDB, renewed while it runs; another process takes
over when it lapses). For each batch of changes it numbers and queues the events and stores the
resume token of the batch's last change in one transaction, fenced by the lease: after a crash or
restart the next watcher resumes just after the last batch whose events were queued, so nothing
committed is missed and nothing is queued twice. The same process runs the time-based trigger (the
appointment reminder), whose watermark is stored the same way.

Being the only writer of event numbers while it holds the lease, the watcher keeps the counters in
memory (read when it takes the lease) and writes them with the events: a batch costs three round
trips in its transaction, whatever the number of subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from fhir_server.services import Services
from fhir_server.store.change_feed import (
    ChangeFeed,
    ChangeHistoryLost,
    ResourceChange,
    ResourceChangeStream,
    RuntimeCursor,
)
from fhir_server.store.repository import Session
from fhir_server.store.subscription_ledger import SubscriptionLedger
from fhir_server.subscriptions.clock import Clock
from fhir_server.subscriptions.matching import Candidate, Matcher, Matches
from fhir_server.subscriptions.model import Kind
from fhir_server.subscriptions.registry import SubscriptionRegistry
from fhir_server.subscriptions.reminders import AppointmentReminders

logger = logging.getLogger(__name__)

LEASE: Final = "change-watcher"
MAX_BATCH: Final = 500
IDLE_SAVE_SECONDS: Final = 10.0  # how often an idle watcher moves its stored token forward
DEFINITIONS: Final = frozenset({"Subscription", "SubscriptionTopic"})


class LeaseLost(Exception):
    """Another process took the watcher over: this one stops without storing anything."""


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class ChangeWatcher:
    def __init__(
        self,
        *,
        services: Services,
        feed: ChangeFeed,
        ledger: SubscriptionLedger,
        matcher: Matcher,
        clock: Clock,
        instance: str,
        on_events: Callable[[], None],
    ) -> None:
        self.services = services
        self.feed = feed
        self.ledger = ledger
        self.matcher = matcher
        self.clock = clock
        self.instance = instance
        self.on_events = on_events
        self.registry = SubscriptionRegistry(services.repository, ledger)
        self.reminders = AppointmentReminders(services)
        settings = services.settings
        self.lease_seconds = settings.subscription_lease_seconds
        self.queue_limit = settings.subscription_queue_limit
        self.wait = min(1.0, self.lease_seconds / 3, settings.subscription_reminder_interval_seconds)
        self.counters: dict[str, int] = {}
        self.watermark: datetime | None = None
        self.watermark_unsaved = False  # moved on in memory, not stored yet

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                cursor = await self.feed.acquire(
                    LEASE, owner=self.instance, now=self.clock.now(), seconds=self.lease_seconds
                )
                if cursor is None:
                    await pause(stop, self.lease_seconds / 3)
                    continue
                await self._follow(cursor, stop)
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                logger.warning("the change-stream watcher lease passed to another process")
            except Exception as error:  # the database went away ...: try again shortly
                logger.error("the change-stream watcher stopped (%s); retrying", type(error).__name__)
                await pause(stop, 1.0)
        try:
            await self.feed.release(LEASE, owner=self.instance)
        except Exception as error:
            logger.warning("could not release the watcher lease (%s)", type(error).__name__)

    async def _follow(self, cursor: RuntimeCursor, stop: asyncio.Event) -> None:
        await self.feed.clear_probes()
        await self.registry.load()
        self.counters = await self.ledger.last_numbers(list(self.registry.subscriptions))
        self.watermark = cursor.watermark
        # Events queued by a watcher that died before it could say so are looked at now.
        await self.ledger.request_attention(None, now=self.clock.now())
        stream = await self._open(cursor.token)
        try:
            await self._watch(stream, cursor.token, stop)
        finally:
            await stream.close()

    async def _open(self, token: Mapping[str, Any] | None) -> ResourceChangeStream:
        if token is not None:
            try:
                return await self.feed.open(token)
            except ChangeHistoryLost:
                logger.error(
                    "the stored change-stream position is older than the database keeps: changes since "
                    "it were not matched; watching from now"
                )
        stream = await self.feed.open(None)
        # First start (or history lost): remember where watching began.
        if not await self.feed.save_cursor(LEASE, owner=self.instance, token=stream.idle_token):
            raise LeaseLost
        return stream

    async def _watch(
        self, stream: ResourceChangeStream, token: Mapping[str, Any] | None, stop: asyncio.Event
    ) -> None:
        saved, saved_at = token, self.clock.now()
        renew_at = self.clock.now() + timedelta(seconds=self.lease_seconds / 3)
        while not stop.is_set():
            now = self.clock.now()
            if now >= renew_at:
                if (
                    await self.feed.acquire(LEASE, owner=self.instance, now=now, seconds=self.lease_seconds)
                    is None
                ):
                    raise LeaseLost
                renew_at = now + timedelta(seconds=self.lease_seconds / 3)
            await self._remind(now)
            batch = await stream.next_batch(max_changes=MAX_BATCH, wait=self.wait)
            if batch:
                await self._handle(batch)
                saved, saved_at = batch[-1].token, self.clock.now()
                continue
            idle = stream.idle_token
            if idle is not None and idle != saved and now - saved_at >= timedelta(seconds=IDLE_SAVE_SECONDS):
                # Nothing to match, but the position moves on: a restart after a long quiet spell
                # must not need history the database has pruned.
                await self._commit(Matches(), token=idle)
                saved, saved_at = idle, now

    # ----- changes ---------------------------------------------------------------------------------

    async def _handle(self, batch: Sequence[ResourceChange]) -> None:
        matches = Matches()
        segment: list[ResourceChange] = []
        # Subscriptions and topics changed in the batch apply to the changes after them.
        for change in batch:
            if change.resource_type in DEFINITIONS:
                matches.add(await self._match(segment))
                segment = []
                await self._refresh(change)
            else:
                segment.append(change)
        matches.add(await self._match(segment))
        await self._commit(matches, token=batch[-1].token)

    async def _refresh(self, change: ResourceChange) -> None:
        await self.registry.refresh(
            change.resource_type, change.resource_id, None if change.deleted else change.resource
        )
        if change.resource_type == "Subscription":
            # A new Subscription's counter was written with it; a re-created one starts again.
            self.counters.pop(change.resource_id, None)
            self.counters.update(await self.ledger.last_numbers([change.resource_id]))

    async def _match(self, changes: Sequence[ResourceChange]) -> Matches:
        if not changes or not self.registry.subscriptions:
            return Matches()
        interested = self.registry.interested_types()
        relevant = [c for c in changes if c.resource_type in interested]
        if not relevant:
            return Matches()
        with_previous = self._types_needing_previous()
        wanted = [
            (c.resource_type, c.resource_id, c.version - 1)
            for c in relevant
            if c.version > 1 and c.resource_type in with_previous
        ]
        previous = await self.feed.versions(wanted)
        candidates = [self._candidate(change, previous, with_previous) for change in relevant]
        return await self.matcher.match(candidates, self.registry)

    def _types_needing_previous(self) -> set[str]:
        """Types some topic subscription listens to: topic triggers may look at the version before
        (previous criteria, FHIRPath), and a deletion is judged on what it removed."""
        types: set[str] = set()
        for active in self.registry.subscriptions.values():
            if (
                active.spec.kind is Kind.TOPIC
                and (topic := self.registry.topic(active.spec.topic)) is not None
            ):
                types |= {t.resource_type for t in topic.resource_triggers}
        return types

    def _candidate(
        self,
        change: ResourceChange,
        previous: dict[tuple[str, str, int], dict[str, Any]],
        with_previous: set[str],
    ) -> Candidate:
        before = previous.get((change.resource_type, change.resource_id, change.version - 1))
        before_document = (
            self.services.repository.document_of(before, change.version - 1, change.last_updated)
            if before is not None
            else None
        )
        if change.deleted:
            interaction = "delete"
        elif change.version == 1 or (change.resource_type in with_previous and before is None):
            interaction = "create"  # a first version, or a re-creation after a deletion
        else:
            interaction = "update"
        return Candidate(
            resource_type=change.resource_type,
            resource_id=change.resource_id,
            version=change.version,
            interaction=interaction,
            at=change.last_updated,
            current=None if change.deleted else change.document,
            previous=before_document,
        )

    # ----- the time-based trigger ------------------------------------------------------------------

    async def _remind(self, now: datetime) -> None:
        """Raise the appointment reminders that fell due since the last run (each interval)."""
        since = self.watermark
        if since is not None and now < since + self.reminders.interval:
            return
        if since is not None and not self.reminders.wanted(self.registry):
            # Nobody to remind: the watermark moves on, stored with the next cursor write.
            self.watermark, self.watermark_unsaved = now, True
            return
        matches = Matches()
        if since is not None:
            matches = await self.matcher.match(await self.reminders.candidates(since, now), self.registry)
        await self._commit(matches, watermark=now)
        self.watermark = now

    # ----- queueing --------------------------------------------------------------------------------

    async def _commit(
        self, matches: Matches, *, token: Mapping[str, Any] | None = None, watermark: datetime | None = None
    ) -> None:
        """Queue the events and move the cursor, in one transaction fenced by the lease."""
        drafts = {sid: events for sid, events in matches.events.items() if sid in self.counters}
        counters = dict(self.counters)
        if watermark is None and self.watermark_unsaved:
            watermark = self.watermark

        async def commit(session: Session) -> dict[str, int]:
            numbered = await self.ledger.append(
                drafts=drafts, counters=counters, queue_limit=self.queue_limit, session=session
            )
            if not await self.feed.save_cursor(
                LEASE, owner=self.instance, token=token, watermark=watermark, session=session
            ):
                raise LeaseLost
            return numbered

        self.counters.update(await self.services.repository.transaction(commit))
        if watermark is not None:
            self.watermark_unsaved = False
        # After the commit, not in it: deliverers write these state documents all the time. A crash
        # right here is covered by the next watcher, which makes every subscription due at its start.
        attention = [*drafts, *matches.unauthorized]  # unauthorized: a deliverer turns them off
        if attention:
            await self.ledger.request_attention(attention, now=self.clock.now())
            self.on_events()
