"""Fixtures for the security tests: the full app with authorization ON, and seeded data.

One app per module (its own database): building it and seeding two patients is the slow part.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from fhir_server.main import create_app
from tests.security.tokens import bearer, mint
from tests.security.world import World, seed_world
from tests.support import client_for, make_settings

SYSTEM_SCOPE = "system/*.cruds"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def secured_app(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    data_dir: Path = tmp_path_factory.mktemp("security")
    settings = make_settings(mongo_uri, data_dir, auth_enabled=True)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        await client.drop_database(settings.database_name)
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def anonymous(secured_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a token: tests pass ``headers=bearer(...)`` per request."""
    async with client_for(secured_app) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def system_http(secured_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a token that may do everything (to seed and to check what is stored)."""
    async with client_for(secured_app, **bearer(mint(secured_app, SYSTEM_SCOPE))) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def world(system_http: httpx.AsyncClient) -> World:
    return await seed_world(system_http)
