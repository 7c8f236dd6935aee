"""Fixtures for the audit trail tests: the real app with authorization on, real signed tokens, and
the audit log read straight from the database (what is stored, not what the API shows)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from fhir_server.audit.trail import AuditTrail
from fhir_server.main import create_app
from tests.security.tokens import bearer, mint
from tests.support import client_for, make_settings

ADMIN = "user/*.cruds"
DOCTOR_USER = "Practitioner/dr-audit"
JsonDict = dict[str, Any]


@dataclass
class Audited:
    """The app under test, a client per role, and the stored audit log."""

    app: FastAPI
    http: httpx.AsyncClient  # no token: pass headers per request

    @property
    def trail(self) -> AuditTrail:
        trail: AuditTrail = self.app.state.audit
        return trail

    def token(self, scope: str = ADMIN, **claims: Any) -> dict[str, str]:
        return bearer(mint(self.app, scope, **claims))

    def doctor(self) -> dict[str, str]:
        """An administrator signed in as a person (``fhirUser``)."""
        return self.token(ADMIN, fhir_user=DOCTOR_USER)

    async def settle(self) -> None:
        """Write what waits in memory and drain the outbox (as the writer does every tick)."""
        await self.trail.writer.flush(force=True)

    async def events(self, query: JsonDict | None = None) -> list[JsonDict]:
        await self.settle()
        docs = self.trail.log.events.find(query or {}, {"res": 1}).sort("aseq", 1)
        return [doc["res"] async for doc in docs]

    async def events_of_request(self, request_id: str) -> list[JsonDict]:
        return [event for event in await self.events() if request_id in request_ids(event)]

    async def provenance_of(self, reference: str) -> list[JsonDict]:
        await self.settle()
        collection = self.trail.log.db["resources.Provenance"]
        docs = collection.find({"res.target.reference": reference}, {"res": 1})
        return [doc["res"] async for doc in docs]


def request_ids(event: JsonDict) -> list[str]:
    return [
        entity["what"]["identifier"]["value"]
        for entity in event.get("entity", [])
        if entity.get("type", {}).get("code") == "XrequestId"
    ]


def entity_references(event: JsonDict) -> list[str]:
    return [e["what"]["reference"] for e in event.get("entity", []) if "reference" in e.get("what", {})]


def patient_references(event: JsonDict) -> list[str]:
    return [e["what"]["reference"] for e in event.get("entity", []) if e.get("role", {}).get("code") == "1"]


def queries(event: JsonDict) -> list[str]:
    return [base64.b64decode(e["query"]).decode() for e in event.get("entity", []) if "query" in e]


def subtype(event: JsonDict) -> str:
    return str(event["subtype"][0]["code"])


def agent(event: JsonDict, code: str) -> JsonDict:
    """The agent of a BALP type: IRCP the person, 110153 the client app, 110152 this server."""
    for candidate in event["agent"]:
        if candidate["type"]["coding"][0]["code"] == code:
            return dict(candidate)
    raise AssertionError(f"no agent {code} in {event['agent']}")


@asynccontextmanager
async def audited_app(mongo_uri: str, data_dir: Path, **overrides: Any) -> AsyncIterator[Audited]:
    """The app with authorization on, its lifespan running, its database dropped afterwards."""
    # A long interval: the tests flush themselves (``settle``), so nothing races them.
    values: dict[str, Any] = {"auth_enabled": True, "audit_flush_interval": 30.0, **overrides}
    settings = make_settings(mongo_uri, data_dir, **values)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app), client_for(app) as http:
            yield Audited(app=app, http=http)
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
        try:
            await client.drop_database(settings.database_name)
        finally:
            await client.close()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def audited(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Audited]:
    """One app per module (building it is the slow part); tests tell their events apart by request."""
    async with audited_app(mongo_uri, tmp_path_factory.mktemp("audit")) as found:
        yield found
