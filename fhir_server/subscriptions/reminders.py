"""The appointment reminder: a time-based trigger, raised a set time before a booked appointment starts.

Every ``subscription_reminder_interval_seconds`` one process (a lease) looks for booked
appointments whose start, minus ``subscription_reminder_lead_seconds``, fell in the window since its
last run (the stored watermark) up to now, matches them against the subscriptions of topics that
raise the ``appointment-reminder`` event, and queues the events in the transaction that moves the
watermark: each appointment start is reminded once. The first run starts the watermark at now;
an appointment booked (or moved) to start sooner than the lead time is not reminded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from fhir_server.errors import BadRequest
from fhir_server.fhirdates import parse_instant
from fhir_server.services import Services
from fhir_server.store.change_feed import ChangeFeed
from fhir_server.store.repository import Session, instant
from fhir_server.store.subscription_ledger import EventDraft, SubscriptionLedger
from fhir_server.subscriptions.clock import Clock
from fhir_server.subscriptions.matching import EVENT, Candidate, Matcher, Matches
from fhir_server.subscriptions.registry import SubscriptionRegistry
from fhir_server.subscriptions.topics import APPOINTMENT_REMINDER, CLINIC_EVENTS
from fhir_server.subscriptions.watcher import LeaseLost, pause

logger = logging.getLogger(__name__)

LEASE: Final = "appointment-reminders"
MAX_PER_RUN: Final = 10_000


class ReminderTrigger:
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
        self.settings = services.settings

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.settings.subscription_reminder_interval_seconds
        while not stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                logger.warning("the appointment-reminder lease passed to another process")
            except Exception as error:
                logger.error("the appointment-reminder trigger failed (%s)", type(error).__name__)
            await pause(stop, interval)
        try:
            await self.feed.release(LEASE, owner=self.instance)
        except Exception as error:
            logger.warning("could not release the reminder lease (%s)", type(error).__name__)

    async def tick(self) -> None:
        """One run: remind the appointments whose reminder time passed since the last run."""
        now = self.clock.now()
        seconds = max(
            self.settings.subscription_lease_seconds, 3 * self.settings.subscription_reminder_interval_seconds
        )
        cursor = await self.feed.acquire(LEASE, owner=self.instance, now=now, seconds=seconds)
        if cursor is None:
            return
        since = cursor.watermark
        if since is None or now <= since:
            if since is None:
                await self._commit({}, now)
            return
        registry = SubscriptionRegistry(self.services.repository, self.ledger)
        await registry.load()
        matches = Matches()
        if any(True for _ in registry.for_event(CLINIC_EVENTS, APPOINTMENT_REMINDER)):
            matches = await self.matcher.match(await self._due(since, now), registry)
        await self._commit(matches.events, now)
        for subscription_id in matches.unauthorized:
            await self.ledger.request_attention(subscription_id, now=now)
        if matches.events or matches.unauthorized:
            self.on_events()

    async def _due(self, since: datetime, now: datetime) -> list[Candidate]:
        lead = timedelta(seconds=self.settings.subscription_reminder_lead_seconds)
        low, high = since + lead, now + lead
        # The search narrows by the date index; the exact window is decided here, so an appointment
        # on a run's boundary falls in exactly one window.
        params = [("date", f"ge{instant(low)}"), ("date", f"le{instant(high)}"), ("status", "booked")]
        candidates: list[Candidate] = []
        async for resource in self.services.search.matching(
            resource_type="Appointment", params=params, limit=MAX_PER_RUN
        ):
            start = _start(resource)
            if start is None or not low < start <= high:
                continue
            version = int((resource.get("meta") or {}).get("versionId") or 1)
            candidates.append(
                Candidate(
                    resource_type="Appointment",
                    resource_id=str(resource["id"]),
                    version=version,
                    interaction=EVENT,
                    at=now,
                    current=self.services.repository.document_of(resource, version, now),
                    event=(CLINIC_EVENTS, APPOINTMENT_REMINDER),
                )
            )
        if len(candidates) >= MAX_PER_RUN:
            logger.warning("more than %d appointment reminders in one run; shorten the interval", MAX_PER_RUN)
        return candidates

    async def _commit(self, drafts: dict[str, list[EventDraft]], watermark: datetime) -> None:
        async def work(session: Session) -> None:
            if drafts:
                await self.ledger.append(
                    drafts=drafts,
                    queue_limit=self.settings.subscription_queue_limit,
                    now=watermark,
                    session=session,
                )
            if not await self.feed.save_watermark(
                LEASE, owner=self.instance, watermark=watermark, session=session
            ):
                raise LeaseLost

        await self.services.repository.transaction(work)


def _start(resource: dict[str, object]) -> datetime | None:
    value = resource.get("start")
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value, name="Appointment.start")
    except BadRequest:
        return None
