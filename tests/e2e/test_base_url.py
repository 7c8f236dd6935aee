"""One base URL: a server bound to loopback with no public base URL answers to every loopback
spelling of itself (``127.0.0.1``, ``localhost``, ``[::1]``) as token issuer and audience; with a
public base URL, only that one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from fhir_server.auth.devtoken import make_dev_token
from fhir_server.main import create_app
from fhir_server.settings import Settings
from tests.support import client_for

PORT = 18931


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app), client_for(app) as client:
            yield client
    finally:
        mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri)
        await mongo.drop_database(settings.database_name)
        await mongo.close()


def _token_for(settings: Settings, base: str) -> str:
    return make_dev_token(settings=settings.model_copy(update={"base_url": base}), scope="system/Patient.rs")


async def _status(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/Patient", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_every_loopback_spelling_names_a_loopback_server(
    mongo_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FHIR_BASE_URL", raising=False)  # derived from host and port here
    settings = Settings(
        mongodb_uri=mongo_uri,
        database_name=f"test_{uuid.uuid4().hex[:12]}",
        data_dir=tmp_path,
        host="127.0.0.1",
        port=PORT,
    )
    assert settings.base_url == f"http://localhost:{PORT}/fhir"
    async with running(settings) as client:
        for host in ("127.0.0.1", "localhost", "[::1]"):
            assert await _status(client, _token_for(settings, f"http://{host}:{PORT}/fhir")) == 200, host
        assert await _status(client, _token_for(settings, f"http://127.0.0.1:{PORT + 1}/fhir")) == 401
        assert await _status(client, _token_for(settings, "http://evil.example/fhir")) == 401


async def test_a_public_base_url_is_the_only_name(mongo_uri: str, tmp_path: Path) -> None:
    public = "https://fhir.clinic.example/fhir"
    settings = Settings(
        mongodb_uri=mongo_uri,
        database_name=f"test_{uuid.uuid4().hex[:12]}",
        data_dir=tmp_path,
        host="127.0.0.1",
        port=PORT,
        base_url=public,
    )
    assert settings.base_url_aliases == ()
    async with running(settings) as client:
        assert await _status(client, _token_for(settings, public)) == 200
        assert await _status(client, _token_for(settings, f"http://127.0.0.1:{PORT}/fhir")) == 401
