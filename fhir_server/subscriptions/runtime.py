"""The subscription machinery of one process, started and stopped by the app's lifespan.

Two background tasks: the change-stream watcher (matching and the appointment-reminder trigger, one
process at a time) and the deliverer (any process, per-subscription leases).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from fhir_server.services import Services
from fhir_server.store.change_feed import ChangeFeed
from fhir_server.store.subscription_ledger import SubscriptionLedger
from fhir_server.subscriptions.clock import Clock, SystemClock
from fhir_server.subscriptions.delivery import Deliverer
from fhir_server.subscriptions.endpoints import EndpointPolicy
from fhir_server.subscriptions.matching import Matcher
from fhir_server.subscriptions.owner import AlwaysAuthorized, CreatorAuthority
from fhir_server.subscriptions.sender import Sender
from fhir_server.subscriptions.watcher import ChangeWatcher

logger = logging.getLogger(__name__)

STOP_SECONDS = 15.0


def instance_name() -> str:
    """Names this process in leases (host, pid and a random part: pids repeat across containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SubscriptionRuntime:
    def __init__(
        self,
        services: Services,
        *,
        clock: Clock | None = None,
        authority: CreatorAuthority | None = None,
        instance: str | None = None,
    ) -> None:
        settings = services.settings
        self.clock = clock or SystemClock()
        self.instance = instance or instance_name()
        authority = authority or AlwaysAuthorized()
        db = services.repository.db
        feed = ChangeFeed(db)
        ledger = SubscriptionLedger(db)
        self.sender = Sender(
            policy=EndpointPolicy.from_setting(settings.subscription_allowed_endpoints),
            default_timeout=settings.subscription_timeout_seconds,
            max_timeout=settings.subscription_max_timeout_seconds,
        )
        matcher = Matcher(services=services, feed=feed, authority=authority)
        self.deliverer = Deliverer(
            services=services,
            ledger=ledger,
            feed=feed,
            sender=self.sender,
            authority=authority,
            clock=self.clock,
            instance=self.instance,
        )
        self.watcher = ChangeWatcher(
            services=services,
            feed=feed,
            ledger=ledger,
            matcher=matcher,
            clock=self.clock,
            instance=self.instance,
            on_events=self.deliverer.wake.set,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.watcher.run(self._stop), name="subscriptions-watcher"),
            asyncio.create_task(self.deliverer.run(self._stop), name="subscriptions-deliverer"),
        ]

    async def stop(self) -> None:
        """Stop the tasks: in-flight deliveries get a few seconds, leases are given back."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        await self.sender.aclose()
