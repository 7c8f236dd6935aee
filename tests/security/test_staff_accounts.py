"""Accounts follow the clinic's staff records through the full app: a Practitioner set inactive or a
PractitionerRole recoded through the FHIR API changes the linked account and ends its tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from fhir_server.auth import store
from fhir_server.auth.clients import ClientKind, create_client
from fhir_server.auth.roles import STAFF_ROLE_SYSTEM
from fhir_server.auth.user_admin import create_account
from tests.auth.helpers import PASSWORD, REDIRECT_URI, Pkce, authorization_code, exchange_code
from tests.support import unique

SCOPE = "offline_access user/Patient.rs user/Observation.rs"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def browser(secured_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=secured_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as http:
        yield http


SPECIALTY_SYSTEM = "http://clinic.example.org/fhir/CodeSystem/clinic-specialty"


def _role(practitioner: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner}"},
        "code": [{"coding": [{"system": STAFF_ROLE_SYSTEM, "code": code}]}],
        # clinic-prr-1: a doctor's role names a specialty
        "specialty": [{"coding": [{"system": SPECIALTY_SYSTEM, "code": "cardiology"}]}],
        **extra,
    }


async def _staff(system_http: httpx.AsyncClient, db: Any, code: str) -> tuple[str, dict[str, Any], str]:
    body = {"resourceType": "Practitioner", "active": True, "name": [{"family": unique("Staff")}]}
    practitioner = await system_http.post("/Practitioner", json=body)
    assert practitioner.status_code == 201, practitioner.text
    role = await system_http.post("/PractitionerRole", json=_role(practitioner.json()["id"], code))
    assert role.status_code == 201, role.text
    username = unique("staff")
    view = await create_account(
        db=db, username=username, password=PASSWORD, role=None, practitioner_role=role.json()["id"]
    )
    assert view.role == code and view.practitioner == practitioner.json()["id"]
    assert view.fhir_user == f"Practitioner/{practitioner.json()['id']}"
    return username, role.json(), practitioner.json()["id"]


async def _tokens(browser: httpx.AsyncClient, db: Any, username: str) -> tuple[str, dict[str, Any]]:
    client = await create_client(
        db=db, kind=ClientKind.PUBLIC, name="App", scopes=SCOPE, redirect_uris=[REDIRECT_URI]
    )
    client_id = client.document["_id"]
    pkce = Pkce()
    browser.cookies.clear()  # a new browser: no session of an earlier user
    code = await authorization_code(browser, client_id, pkce, SCOPE, username)
    answer = await exchange_code(browser, client_id, code, pkce)
    assert answer.status_code == 200, answer.text
    return client_id, answer.json()


async def _read(browser: httpx.AsyncClient, token: str) -> int:
    return (await browser.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})).status_code


async def _refresh(browser: httpx.AsyncClient, client_id: str, token: str) -> int:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id}
    return (await browser.post("/oauth/token", data=form)).status_code


async def test_recoding_the_practitioner_role_changes_the_account_role(
    secured_app: FastAPI, system_http: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    db = secured_app.state.db
    username, role, _ = await _staff(system_http, db, "doctor")
    client_id, before = await _tokens(browser, db, username)
    assert "user/Observation.rs" in before["scope"].split()
    changed = await system_http.put(f"/PractitionerRole/{role['id']}", json={**_role("x", "receptionist"),
                                    "id": role["id"], "practitioner": role["practitioner"]})  # fmt: skip
    assert changed.status_code == 200, changed.text
    account = await db[store.USERS].find_one({"_id": username})
    assert account["role"] == "receptionist"
    assert await _refresh(browser, client_id, before["refresh_token"]) == 400
    secured_app.state.auth.cache.invalidate()  # the check period, passed at once
    assert await _read(browser, before["access_token"]) == 401
    _, after = await _tokens(browser, db, username)
    assert set(after["scope"].split()) == {"offline_access", "user/Patient.rs"}


async def test_deactivating_the_practitioner_ends_access(
    secured_app: FastAPI, system_http: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    db = secured_app.state.db
    username, _, practitioner_id = await _staff(system_http, db, "nurse")
    client_id, body = await _tokens(browser, db, username)
    assert await _read(browser, body["access_token"]) == 200
    current = (await system_http.get(f"/Practitioner/{practitioner_id}")).json()
    answer = await system_http.put(f"/Practitioner/{practitioner_id}", json={**current, "active": False})
    assert answer.status_code == 200, answer.text
    account = await db[store.USERS].find_one({"_id": username})
    assert account["linked_active"] is False and account["active"] is True
    assert await _refresh(browser, client_id, body["refresh_token"]) == 400
    assert await _read(browser, body["access_token"]) in (200, 401)  # within the check period ...
    secured_app.state.auth.cache.invalidate()  # ... which here ends at once
    assert await _read(browser, body["access_token"]) == 401
    # Reactivating the Practitioner lets the account sign in again (old tokens stay dead).
    await system_http.put(f"/Practitioner/{practitioner_id}", json={**current, "active": True})
    assert (await db[store.USERS].find_one({"_id": username}))["linked_active"] is True
    _, again = await _tokens(browser, db, username)
    assert await _read(browser, again["access_token"]) == 200
    assert await _read(browser, body["access_token"]) == 401


async def test_an_ended_practitioner_role_ends_access(
    secured_app: FastAPI, system_http: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    db = secured_app.state.db
    username, role, _ = await _staff(system_http, db, "doctor")
    await _tokens(browser, db, username)
    ended = {**role, "period": {"start": "2020-01-01", "end": "2021-01-01"}}
    assert (await system_http.put(f"/PractitionerRole/{role['id']}", json=ended)).status_code == 200
    account = await db[store.USERS].find_one({"_id": username})
    assert account["linked_active"] is False
    browser.cookies.clear()
    page = await browser.get("/oauth/authorize", params={"client_id": "nobody"})
    assert page.status_code == 400  # (no client: just checks the pages answer)
