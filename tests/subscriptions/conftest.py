"""Fixtures for subscription tests: apps with the subscription machinery tuned for quick tests,
real receivers, an injectable clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from fhir_server.main import create_app
from fhir_server.subscriptions.clock import Clock
from fhir_server.subscriptions.owner import CreatorAuthority
from tests.subscriptions.receiver import Receiver
from tests.support import make_settings

# Quick retries, short leases and polls: tests wait seconds, not minutes.
FAST = {
    "subscriptions_enabled": True,  # off in other tests' apps (tests.support.make_settings)
    "subscription_allowed_endpoints": '["http://127.0.0.1:*"]',
    "subscription_retry_base_seconds": 0.2,
    "subscription_retry_max_seconds": 1.0,
    "subscription_error_after_failures": 2,
    "subscription_poll_seconds": 0.1,
    "subscription_lease_seconds": 3.0,
    "subscription_min_heartbeat_seconds": 1,
    "subscription_reminder_lead_seconds": 60,
    "subscription_reminder_interval_seconds": 0.1,
}


class ManualClock:
    """A clock the test moves by hand (what the machinery takes for now)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


SubAppFactory = Callable[..., Awaitable[FastAPI]]


@pytest_asyncio.fixture(loop_scope="session")
async def sub_app_factory(mongo_uri: str, tmp_path: Path) -> AsyncIterator[SubAppFactory]:
    """Apps with their lifespans running; ``database_name`` shares a database between apps (a
    restart). Each app is stopped (in reverse order) before its database is dropped."""
    names: set[str] = set()
    async with AsyncExitStack() as stack:

        async def build(
            *,
            clock: Clock | None = None,
            authority: CreatorAuthority | None = None,
            database_name: str | None = None,
            **overrides: Any,
        ) -> FastAPI:
            values = {**FAST, **overrides}
            if database_name is not None:
                values["database_name"] = database_name
            settings = make_settings(mongo_uri, tmp_path / uuid.uuid4().hex[:8], **values)
            names.add(settings.database_name)
            app = create_app(settings, subscription_clock=clock, creator_authority=authority)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        try:
            yield build
        finally:
            await stack.aclose()
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
            try:
                for name in names:
                    await client.drop_database(name)
            finally:
                await client.close()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def shared_app(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    """One app for a module's tests that only validate (they leave nothing that matters behind)."""
    settings = make_settings(mongo_uri, tmp_path_factory.mktemp("subscriptions"), **FAST)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        await client.drop_database(settings.database_name)
    finally:
        await client.close()


async def stop_app(app: FastAPI) -> None:
    """Stop an app's subscription machinery now (a process going away), leases given back."""
    runtime = app.state.subscriptions
    if runtime is not None:
        await runtime.stop()
        app.state.subscriptions = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.up()
    try:
        yield hook
    finally:
        hook.down()
