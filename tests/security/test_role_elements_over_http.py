"""The element rules of a role hold over HTTP, on every path the pipeline serves: a receptionist
never receives an Appointment's reason (read, search, history, bundle entries, write answers),
cannot search by it, and its writes keep the reason it cannot see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from fhir_server.auth.roles import ROLES
from tests.security.tokens import bearer, mint
from tests.security.world import World
from tests.support import client_for, unique

REASON = {"text": "Suspected arrhythmia"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def reception(secured_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    token = mint(secured_app, " ".join(ROLES["receptionist"].scopes), role="receptionist")
    async with client_for(secured_app, **bearer(token)) as http:
        yield http


async def _appointment(system_http: httpx.AsyncClient, world: World, hour: int) -> dict[str, Any]:
    body = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": f"2032-01-05T{hour:02d}:00:00Z",
        "end": f"2032-01-05T{hour:02d}:20:00Z",
        "description": unique("visit"),
        "reasonCode": [REASON],
        "participant": [{"actor": {"reference": world.a.ref()}, "status": "accepted"}],
    }
    created = await system_http.post("/Appointment", json=body)
    assert created.status_code == 201, created.text
    stored: dict[str, Any] = created.json()
    return stored


def _no_reason(resource: dict[str, Any]) -> None:
    assert "reasonCode" not in resource
    labels = [label.get("code") for label in (resource.get("meta") or {}).get("security", [])]
    assert "REDACTED" in labels


async def test_reads_searches_history_and_bundles_leave_the_reason_out(
    reception: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    stored = await _appointment(system_http, world, 9)
    url = f"/Appointment/{stored['id']}"
    _no_reason((await reception.get(url)).json())
    _no_reason((await reception.get(f"{url}/_history/1")).json())
    for bundle in (
        (await reception.get("/Appointment", params={"_id": stored["id"]})).json(),
        (await reception.get(f"{url}/_history")).json(),
    ):
        assert bundle["entry"], bundle
        for entry in bundle["entry"]:
            _no_reason(entry["resource"])
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": url[1:]}}],
    }
    answer = (await reception.post("/", json=batch)).json()
    _no_reason(answer["entry"][0]["resource"])
    assert REASON["text"] not in (await reception.get(url)).text


async def test_searching_by_the_reason_is_refused(reception: httpx.AsyncClient) -> None:
    for params in ({"reason-code": "http://snomed.info/sct|49436004"}, {"_sort": "reason-code"}):
        refused = await reception.get("/Appointment", params=params)
        assert refused.status_code == 403, (params, refused.text, refused.request.url)
    conditional = await reception.put(
        "/Appointment",
        params={"reason-code": "49436004"},
        json={
            "resourceType": "Appointment",
            "status": "proposed",
            "participant": [{"status": "needs-action"}],
        },
    )
    assert conditional.status_code == 403, conditional.text


async def test_writes_keep_the_reason_the_receptionist_cannot_see(
    reception: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    stored = await _appointment(system_http, world, 11)
    url = f"/Appointment/{stored['id']}"
    seen = (await reception.get(url)).json()
    answer = await reception.put(url, json={**seen, "comment": "moved to room 2"})
    assert answer.status_code == 200, answer.text
    _no_reason(answer.json())
    patched = await reception.patch(
        url, json=[{"op": "add", "path": "/priority", "value": 3}], headers=JSON_PATCH
    )
    assert patched.status_code == 200, patched.text
    kept = (await system_http.get(url)).json()
    assert kept["reasonCode"] == [REASON]
    assert kept["comment"] == "moved to room 2" and kept["priority"] == 3
    labels = [label.get("code") for label in (kept.get("meta") or {}).get("security", [])]
    assert "REDACTED" not in labels
