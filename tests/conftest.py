"""Shared fixtures: a real MongoDB wire server and the real ASGI app.

With ``FHIR_MONGODB_URI`` set the tests run against that MongoDB (a replica set); otherwise an
embedded SecantusDB is started in memory once per test process.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from fhir_server.main import create_app
from fhir_server.store.embedded import MEMORY, start_embedded
from tests.database_pool import DatabasePool
from tests.support import SHARED, client_for, make_settings


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    configured = os.environ.get("FHIR_MONGODB_URI")
    if configured:
        yield configured
        return
    embedded = start_embedded(storage=MEMORY)
    try:
        yield embedded.uri
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared data folder is missing at {SHARED}")
    return SHARED


AppFactory = Callable[..., Awaitable[FastAPI]]


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def database_pool(mongo_uri: str) -> AsyncIterator[DatabasePool]:
    pool = DatabasePool(mongo_uri)
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture(loop_scope="session")
async def app_factory(
    mongo_uri: str, tmp_path: Path, database_pool: DatabasePool
) -> AsyncIterator[AppFactory]:
    """Build apps with their lifespans running; each gets a database of its own, emptied to what a
    fresh start leaves (see ``database_pool``) or dropped afterwards."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> FastAPI:
            pooled = "database_name" not in overrides
            if pooled:
                overrides["database_name"] = database_pool.acquire()
            settings = make_settings(mongo_uri, tmp_path / uuid.uuid4().hex[:8], **overrides)
            app = create_app(settings)
            # Registered first so it runs last: the app's background tasks (audit writer, job
            # runner, subscription watcher) stop before their database is emptied or dropped.
            if pooled:
                stack.push_async_callback(database_pool.release, settings.database_name)
            else:
                stack.push_async_callback(_drop_database, mongo_uri, settings.database_name)
            await stack.enter_async_context(app.router.lifespan_context(app))
            if pooled:
                await database_pool.started(settings.database_name)
            return app

        yield build


async def _drop_database(mongo_uri: str, name: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def app(app_factory: AppFactory) -> FastAPI:
    return await app_factory()


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http
