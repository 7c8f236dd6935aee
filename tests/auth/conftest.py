"""Fixtures for the authorization tests: a real MongoDB wire server and a small app built from
``build_auth_router`` + ``build_auth_state``, driven over ASGI with httpx."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import pytest_asyncio
from fastapi import Depends, FastAPI
from joserfc.jwk import RSAKey
from pymongo import AsyncMongoClient

from fhir_server.api.errors import install_error_handlers
from fhir_server.assembly import build_services, close_services
from fhir_server.auth.authenticate import authenticate
from fhir_server.auth.routes import build_auth_router
from fhir_server.auth.state import AuthState, build_auth_state
from fhir_server.context import Principal
from fhir_server.settings import Settings
from fhir_server.store.embedded import MEMORY, start_embedded
from tests.auth.helpers import EXTERNAL_AUDIENCE, EXTERNAL_ISSUER, EXTERNAL_JWKS_URI, FHIR_BASE, ManualClock

Document = dict[str, Any]


@pytest.fixture(scope="session")
def auth_mongo_uri(request: pytest.FixtureRequest) -> Iterator[str]:
    """The suite's database server when the top-level conftest offers one, else our own."""
    try:
        yield request.getfixturevalue("mongo_uri")
        return
    except pytest.FixtureLookupError:
        pass
    embedded = start_embedded(storage=MEMORY)
    try:
        yield embedded.uri
    finally:
        embedded.stop()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def mongo(auth_mongo_uri: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(auth_mongo_uri, tz_aware=True)
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def db(mongo: AsyncMongoClient[Document]) -> AsyncIterator[Any]:
    name = f"auth_{uuid.uuid4().hex[:12]}"
    try:
        yield mongo[name]
    finally:
        await mongo.drop_database(name)


@pytest.fixture(scope="session")
def signing_pem() -> str:
    return RSAKey.generate_key(2048).as_pem(private=True).decode()


@pytest.fixture
def settings(tmp_path: Path, signing_pem: str) -> Settings:
    external = [
        {
            "issuer": EXTERNAL_ISSUER,
            "jwks_uri": EXTERNAL_JWKS_URI,
            "audience": EXTERNAL_AUDIENCE,
            "scope_claim": "scp",
        }
    ]
    return Settings(
        mongodb_uri="mongodb://unused",
        data_dir=tmp_path,
        base_url=FHIR_BASE,
        auth_enabled=True,
        auth_signing_key=signing_pem,
        external_issuers=json.dumps(external),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def build_test_app(settings: Settings, db: Any, auth: AuthState) -> FastAPI:
    """The auth router over the real services (the patient picker searches with the search engine);
    close them with ``close_services(app.state.services)``."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = settings
    app.state.db = db
    app.state.auth = auth
    app.state.services = await build_services(settings, db, gate=auth.gate, registry=auth.gate.facts.registry)
    app.include_router(build_auth_router(settings))

    @app.get("/fhir/Patient")
    async def probe(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
        """A protected route standing in for the FHIR API: echoes who the caller is."""
        return {
            "subject": principal.subject,
            "client_id": principal.client_id,
            "scopes": sorted(principal.scopes),
            "patient": principal.patient,
            "fhir_user": principal.fhir_user,
        }

    return app


@pytest_asyncio.fixture(loop_scope="session")
async def auth_state(settings: Settings, db: Any, clock: ManualClock) -> AsyncIterator[AuthState]:
    state = await build_auth_state(settings, db, clock=clock)
    try:
        yield state
    finally:
        await state.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def http(settings: Settings, db: Any, auth_state: AuthState) -> AsyncIterator[httpx.AsyncClient]:
    app = await build_test_app(settings, db, auth_state)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client
    finally:
        await close_services(app.state.services)  # before ``db`` is dropped
