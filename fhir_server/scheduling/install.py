"""Wiring the scheduling rules into the services: one hook, two write checks."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.context import RequestContext
from fhir_server.scheduling.hook import BookingRules
from fhir_server.scheduling.ledger import BookingLedger
from fhir_server.scheduling.viewer import remember_writer
from fhir_server.services import Services


async def ensure_scheduling_indexes(db: AsyncDatabase[Any]) -> None:
    """Create the booking ledger's indexes (idempotent; call at start-up, outside transactions)."""
    await BookingLedger(db).ensure_indexes()


class _LedgerReady:
    """Write check: make sure the ledger's indexes exist before the first Appointment write.

    Done lazily, once per app, and outside the write's transaction (index builds may not run in
    one), so the start-up code need not know about the ledger."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.ready = False
        self.lock = asyncio.Lock()

    async def __call__(self, ctx: RequestContext, resource: dict[str, Any]) -> None:
        if resource.get("resourceType") == "Appointment":
            await self.ensure()

    async def ensure(self) -> None:
        if self.ready:
            return
        async with self.lock:
            if not self.ready:
                await ensure_scheduling_indexes(self.db)
                self.ready = True


async def scheduling_ready(services: Services) -> None:
    """Make sure the ledger's indexes exist (once per app); call before opening a transaction."""
    for check in services.write_checks:
        if isinstance(check, _LedgerReady):
            await check.ensure()
            return
    await ensure_scheduling_indexes(services.repository.db)


def install_scheduling(services: Services) -> None:
    """Add the booking hook to the repository and the scheduling write checks to the services."""
    repository = services.repository
    services.write_checks.append(_LedgerReady(repository.db))
    services.write_checks.append(remember_writer)
    repository.hooks.append(
        BookingRules(repository=repository, gate=services.gate, base_url=services.settings.base_url)
    )
