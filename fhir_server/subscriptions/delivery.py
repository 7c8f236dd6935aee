"""Delivery: any process may deliver any subscription, never two at once, events in number order.

A deliverer leases a subscription that is due (events queued, a handshake asked for, a heartbeat
or a retry time reached), does what is due and records it, then gives the lease back with the time
it is due next. A notification counts as delivered only when the endpoint answered 2xx; until then
it is sent again (at-least-once), after exponentially growing, jittered delays. After
``subscription_error_after_failures`` failures in a row the Subscription's status turns ``error``;
the first success turns it back to ``active``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Final

from fhir_server.errors import FhirError
from fhir_server.services import Services
from fhir_server.store.change_feed import ChangeFeed
from fhir_server.store.subscription_ledger import (
    NEVER,
    Progress,
    QueuedEvent,
    SubscriptionLedger,
    SubscriptionState,
)
from fhir_server.subscriptions.clock import Clock
from fhir_server.subscriptions.model import Content, Kind, SubscriptionSpec, parse_subscription
from fhir_server.subscriptions.notifications import StatusFacts, notification_bundle
from fhir_server.subscriptions.owner import Creator, CreatorAuthority
from fhir_server.subscriptions.sender import Outbound, Sender, SendResult
from fhir_server.subscriptions.status import StatusWriter

logger = logging.getLogger(__name__)

MAX_ROUNDS: Final = 50  # notifications per lease before giving others a turn
WINDOW: Final = 100  # queued events read at once
STOP_GRACE_SECONDS: Final = 5.0
REVOKED: Final = "the subscription's creator no longer has access"
ENDED: Final = "the subscription reached its end time"


class Deliverer:
    def __init__(
        self,
        *,
        services: Services,
        ledger: SubscriptionLedger,
        feed: ChangeFeed,
        sender: Sender,
        authority: CreatorAuthority,
        clock: Clock,
        instance: str,
    ) -> None:
        self.services = services
        self.ledger = ledger
        self.feed = feed
        self.sender = sender
        self.authority = authority
        self.clock = clock
        self.instance = instance
        self.settings = services.settings
        self.status = StatusWriter(services, ledger)
        self.base_url = services.settings.base_url.rstrip("/")
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task[None]] = set()
        concurrency = self.settings.subscription_delivery_concurrency
        try:
            while not stop.is_set():
                self.wake.clear()
                try:
                    while len(tasks) < concurrency:
                        state = await self.ledger.claim_due(
                            owner=self.instance,
                            now=self.clock.now(),
                            lease_seconds=self.settings.subscription_lease_seconds,
                        )
                        if state is None:
                            break
                        task = asyncio.create_task(self._deliver(state), name="subscription-delivery")
                        tasks.add(task)
                        task.add_done_callback(self._finished(tasks))
                except Exception as error:
                    logger.error("looking for due subscriptions failed (%s)", type(error).__name__)
                await self._sleep(stop, self.settings.subscription_poll_seconds)
        finally:
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            try:
                await self.ledger.release_all(owner=self.instance)
            except Exception as error:
                logger.warning("could not release delivery leases (%s)", type(error).__name__)

    def _finished(self, tasks: set[asyncio.Task[None]]) -> Any:
        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            self.wake.set()  # a slot is free

        return done

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self.wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # ----- one subscription ------------------------------------------------------------------------

    async def _deliver(self, state: SubscriptionState) -> None:
        try:
            await _Delivery(self, state).run()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.error(
                "delivering Subscription/%s failed (%s)", state.id, type(error).__name__, exc_info=True
            )
            retry = self.clock.now() + timedelta(seconds=self.settings.subscription_retry_base_seconds)
            with contextlib.suppress(Exception):  # else the lease runs out by itself
                await self.ledger.release(state.id, owner=self.instance, due=retry)

    def backoff(self, failures: int) -> float:
        """Exponential delay with jitter: between half and all of base * 2^(failures-1), capped."""
        base = self.settings.subscription_retry_base_seconds
        ceiling = min(self.settings.subscription_retry_max_seconds, base * 2.0 ** min(failures - 1, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class _Delivery:
    """What one lease of one subscription does: handshake, events in number order, heartbeats."""

    def __init__(self, deliverer: Deliverer, state: SubscriptionState) -> None:
        self.d = deliverer
        self.state: SubscriptionState | None = state
        self.id = state.id
        self.window: deque[QueuedEvent] = deque()  # queued events read ahead, oldest first
        self.drained = False  # the last read found nothing more queued
        self.total = 0  # eventsSinceSubscriptionStart

    async def run(self) -> None:
        d = self.d
        stored = await d.services.repository.current(resource_type="Subscription", resource_id=self.id)
        if stored is None or stored.resource is None:
            await d.ledger.release(self.id, owner=d.instance, due=NEVER)
            return
        try:
            spec = parse_subscription(stored.resource)
        except FhirError as error:  # accepted once, refused now (a setting changed): say so
            await self._turn(status="error", reason=error.diagnostics)
            await d.ledger.release(self.id, owner=d.instance, due=NEVER)
            return
        state = self.state
        assert state is not None
        if spec.status == "off" or state.status == "off":
            await d.ledger.release(self.id, owner=d.instance, due=NEVER)
            return
        if not await d.authority.is_still_authorized(Creator.from_document(state.owner)):
            await self._stop(REVOKED)
            return
        if spec.end is not None and d.clock.now() >= spec.end:
            await self._stop(ENDED)
            return
        self.total = await d.ledger.last_number(self.id)
        for _ in range(MAX_ROUNDS):
            if not await self._step(spec):
                break
        if self.state is None:
            return  # the lease was lost: the new holder carries on
        retention = d.settings.subscription_event_retention
        await d.ledger.trim(self.id, up_to=self.state.delivered - retention)
        await d.ledger.release(self.id, owner=d.instance, due=self._next_due(spec, self.state))

    async def _step(self, spec: SubscriptionSpec) -> bool:
        """Do the next thing due; False when nothing more is due now (or the lease was lost)."""
        state, now = self.state, self.d.clock.now()
        if state is None or state.retry_at > now:
            return False
        if state.activate:
            result = await self._handshake(spec) if spec.kind is Kind.TOPIC else SendResult(True)
            if not result.ok:
                await self._failed(result, handshake=True)
                return False
            await self._turn(status="active", reason=None)
            await self._record(
                Progress(activate=False, failures=0, status="active", clear_error=True, last_sent=now)
            )
            return True
        if await self._pending(state):
            return await self._send_events(spec, state, now)
        if self._heartbeat_due(spec, state, now):
            facts = StatusFacts(self.id, "active", spec.topic, self.total)
            bundle = notification_bundle(facts, base_url=self.d.base_url, kind="heartbeat", now=now)
            result = await self.d.sender.send(spec, Outbound("POST", spec.endpoint, bundle))
            if not result.ok:
                await self._failed(result)
                return False
            await self._record(Progress(last_sent=now))
            return True
        return False

    async def _pending(self, state: SubscriptionState) -> bool:
        """Whether events wait; reads ahead a window of them when the last one is used up."""
        if not self.window and not self.drained:
            found = await self.d.ledger.events(self.id, after=state.delivered, limit=WINDOW)
            self.window.extend(found)
            self.drained = len(found) < WINDOW
            if found:
                self.total = max(self.total, found[-1].number)
        return bool(self.window)

    async def _send_events(self, spec: SubscriptionSpec, state: SubscriptionState, now: datetime) -> bool:
        one_per_request = spec.kind is Kind.CRITERIA and spec.content is not Content.ID_ONLY
        count = 1 if one_per_request else spec.max_count
        events = [self.window[i] for i in range(min(count, len(self.window)))]
        outbound = await self._outbound(spec, events, now)
        result = await self.d.sender.send(spec, outbound) if outbound is not None else SendResult(True)
        if not result.ok:
            await self._failed(result)
            return False
        for _ in events:
            self.window.popleft()
        if state.status == "error":
            await self._turn(status="active", reason=None)
        # Numbers skipped before these (dropped from a full queue) count as delivered too.
        await self._record(
            Progress(
                delivered=events[-1].number, failures=0, last_sent=now, clear_error=True, status="active"
            )
        )
        return True

    async def _outbound(
        self, spec: SubscriptionSpec, events: list[QueuedEvent], now: datetime
    ) -> Outbound | None:
        if spec.kind is Kind.CRITERIA and spec.content is Content.EMPTY:
            return Outbound("POST", spec.endpoint, None)  # R4: a ping without a body
        if spec.kind is Kind.CRITERIA and spec.content is Content.FULL:
            # R4: the resource is PUT to the endpoint as to a FHIR server ({endpoint}/{type}/{id}).
            resource = (await self._versions(events)).get(events[0].focus)
            if resource is None:
                return None  # a deletion, or gone for good (expunged): nothing to send
            resource_type, resource_id = events[0].focus.split("/")[:2]
            return Outbound("PUT", f"{spec.endpoint.rstrip('/')}/{resource_type}/{resource_id}", resource)
        resources = await self._versions(events) if spec.content is Content.FULL else {}
        facts = StatusFacts(self.id, "active", spec.topic, self.total)
        bundle = notification_bundle(
            facts,
            base_url=self.d.base_url,
            kind="event-notification",
            events=events,
            content=spec.content,
            resources=resources,
            now=now,
        )
        return Outbound("POST", spec.endpoint, bundle)

    async def _versions(self, events: list[QueuedEvent]) -> dict[str, dict[str, Any] | None]:
        """The version each event is about, as it was written (one query for all)."""
        keys = []
        for event in events:
            resource_type, resource_id, _, version = event.focus.split("/")
            keys.append((resource_type, resource_id, int(version)))
        found = await self.d.feed.versions(keys)
        return {event.focus: found.get(key) for event, key in zip(events, keys, strict=True)}

    async def _handshake(self, spec: SubscriptionSpec) -> SendResult:
        facts = StatusFacts(self.id, "requested", spec.topic, self.total)
        bundle = notification_bundle(
            facts, base_url=self.d.base_url, kind="handshake", now=self.d.clock.now()
        )
        return await self.d.sender.send(spec, Outbound("POST", spec.endpoint, bundle))

    def _heartbeat_due(self, spec: SubscriptionSpec, state: SubscriptionState, now: datetime) -> bool:
        if spec.kind is not Kind.TOPIC or spec.heartbeat_seconds is None or state.last_sent is None:
            return False
        return now >= state.last_sent + timedelta(seconds=spec.heartbeat_seconds)

    def _next_due(self, spec: SubscriptionSpec, state: SubscriptionState) -> datetime:
        now = self.d.clock.now()
        moments: list[datetime] = []
        if state.activate or self.window or not self.drained:
            moments.append(max(now, state.retry_at))
        if spec.kind is Kind.TOPIC and spec.heartbeat_seconds is not None and state.last_sent is not None:
            moments.append(max(state.last_sent + timedelta(seconds=spec.heartbeat_seconds), state.retry_at))
        if spec.end is not None:
            moments.append(spec.end)
        return min(moments, default=NEVER)

    # ----- recording ---------------------------------------------------------------------------------

    async def _record(self, progress: Progress) -> None:
        lease_until = self.d.clock.now() + timedelta(seconds=self.d.settings.subscription_lease_seconds)
        self.state = await self.d.ledger.record(
            self.id, owner=self.d.instance, progress=progress, lease_until=lease_until
        )

    async def _failed(self, result: SendResult, *, handshake: bool = False) -> None:
        state = self.state
        assert state is not None
        failures = state.failures + 1
        delay = (
            self.d.settings.subscription_retry_max_seconds if result.permanent else self.d.backoff(failures)
        )
        threshold = self.d.settings.subscription_error_after_failures
        status = state.status
        if status != "error" and (handshake or result.permanent or failures >= threshold):
            status = "error"
            await self._turn(status="error", reason=result.reason)
        logger.warning(
            "Subscription/%s: delivery failed (%s), attempt %d, next in %.1f s",
            self.id,
            result.reason,
            failures,
            delay,
        )
        await self._record(
            Progress(
                failures=failures,
                retry_at=self.d.clock.now() + timedelta(seconds=delay),
                error=result.reason,
                status=status,
            )
        )

    async def _turn(self, *, status: str, reason: str | None) -> None:
        """Write the status into the Subscription (unless a client rewrote it meanwhile)."""
        if self.state is not None and (self.state.status != status or status != "active"):
            await self.d.status.set(
                subscription_id=self.id, status=status, reason=reason, generation=self.state.generation
            )

    async def _stop(self, reason: str) -> None:
        """Turn the subscription off and skip what it had queued."""
        d = self.d
        await self._turn(status="off", reason=reason)
        await self._record(
            Progress(delivered=await d.ledger.last_number(self.id), status="off", error=reason)
        )
        logger.info("Subscription/%s turned off: %s", self.id, reason)
        await d.ledger.release(self.id, owner=d.instance, due=NEVER)
