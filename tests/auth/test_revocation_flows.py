"""Access that ends when it should, over HTTP: authorization code + PKCE driven like a browser, then
refresh, introspection and a protected route, around each administrative change."""

from __future__ import annotations

from typing import Any

import httpx

from fhir_server.auth import store
from fhir_server.auth.client_admin import set_client_active
from fhir_server.auth.clients import ClientKind, create_client
from fhir_server.auth.state import AuthState
from fhir_server.auth.user_admin import reset_password, set_active, set_role
from fhir_server.auth.users import create_user
from fhir_server.settings import Settings
from tests.auth.helpers import (
    PASSWORD,
    REDIRECT_URI,
    ManualClock,
    Pkce,
    authorization_code,
    exchange_code,
    hidden_inputs,
)

SCOPE = "offline_access user/Patient.rs user/Observation.rs"


async def _setup(db: Any, role: str = "doctor") -> tuple[str, str]:
    await create_user(db=db, username="alice", password=PASSWORD, role=role, fhir_user="Practitioner/p1")
    app = await create_client(
        db=db, kind=ClientKind.PUBLIC, name="App", scopes=SCOPE, redirect_uris=[REDIRECT_URI]
    )
    confidential = await create_client(
        db=db, kind=ClientKind.SYMMETRIC, name="Gateway", scopes="user/*.rs", redirect_uris=[REDIRECT_URI]
    )
    assert confidential.secret
    return app.document["_id"], f"{confidential.document['_id']}:{confidential.secret}"


async def _tokens(http: httpx.AsyncClient, client_id: str, scope: str = SCOPE) -> dict[str, Any]:
    pkce = Pkce()
    code = await authorization_code(http, client_id, pkce, scope, "alice")
    answer = await exchange_code(http, client_id, code, pkce)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _refresh(http: httpx.AsyncClient, client_id: str, token: str) -> httpx.Response:
    return await http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id}
    )


async def _read(http: httpx.AsyncClient, token: str) -> int:
    answer = await http.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


async def _introspect(http: httpx.AsyncClient, gateway: str, token: str) -> dict[str, Any]:
    client_id, secret = gateway.split(":", 1)
    answer = await http.post(
        "/oauth/introspect", data={"token": token}, auth=httpx.BasicAuth(client_id, secret)
    )
    body: dict[str, Any] = answer.json()
    return body


async def test_disabling_a_user_ends_refresh_now_and_access_within_the_check_period(
    http: httpx.AsyncClient, db: Any, clock: ManualClock, settings: Settings
) -> None:
    client_id, gateway = await _setup(db)
    body = await _tokens(http, client_id)
    assert await _read(http, body["access_token"]) == 200
    # Another process (the command line) disables the account: no shared memory with the server.
    await set_active(db=db, username="alice", active=False)
    assert (await _refresh(http, client_id, body["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await _introspect(http, gateway, body["access_token"])) == {
        "active": False
    }  # introspection is exact
    clock.now += settings.revocation_check_seconds - 1
    assert await _read(http, body["access_token"]) == 200, "the snapshot may be this old"
    clock.now += 1
    assert await _read(http, body["access_token"]) == 401, "never older than the check period (<= 60 s)"
    # Enabling again does not bring the old tokens back.
    await set_active(db=db, username="alice", active=True)
    clock.now += settings.revocation_check_seconds
    assert await _read(http, body["access_token"]) == 401
    assert (await _refresh(http, client_id, body["refresh_token"])).status_code == 400


async def test_a_revocation_made_by_the_server_itself_bites_at_once(
    http: httpx.AsyncClient, db: Any, auth_state: AuthState
) -> None:
    client_id, _ = await _setup(db)
    body = await _tokens(http, client_id)
    assert await _read(http, body["access_token"]) == 200
    await set_active(db=db, username="alice", active=False, cache=auth_state.cache)
    assert await _read(http, body["access_token"]) == 401


async def test_demoting_a_user_gives_the_next_token_the_new_scopes_only(
    http: httpx.AsyncClient, db: Any, auth_state: AuthState
) -> None:
    client_id, _ = await _setup(db)
    before = await _tokens(http, client_id)
    assert set(before["scope"].split()) == set(SCOPE.split())
    await set_role(db=db, username="alice", role="receptionist", cache=auth_state.cache)
    assert (await _refresh(http, client_id, before["refresh_token"])).status_code == 400
    assert await _read(http, before["access_token"]) == 401
    after = await _tokens(http, client_id)  # the session ended too: this signs in again
    assert set(after["scope"].split()) == {"offline_access", "user/Patient.rs"}
    assert await _read(http, after["access_token"]) == 200


async def test_resetting_a_password_ends_access_and_the_link_sets_a_new_one(
    http: httpx.AsyncClient, db: Any, auth_state: AuthState, settings: Settings
) -> None:
    client_id, _ = await _setup(db)
    body = await _tokens(http, client_id)
    reset = await reset_password(
        db=db,
        username="alice",
        mode="link",
        link_base=auth_state.urls.password_reset,
        lifetime=settings.password_reset_lifetime,
        cache=auth_state.cache,
    )
    assert reset.link is not None
    assert (await _refresh(http, client_id, body["refresh_token"])).status_code == 400
    assert await _read(http, body["access_token"]) == 401
    user = await db[store.USERS].find_one({"_id": "alice"})
    assert user["must_change_password"]
    page = await http.get(reset.link.removeprefix("http://testserver"))
    assert page.status_code == 200, page.text
    new_password = "a brand new password 7"
    done = await http.post(
        "/oauth/password-reset",
        data={**hidden_inputs(page.text), "new_password": new_password, "repeat": new_password},
    )
    assert done.status_code == 200, done.text
    again = await http.post(
        "/oauth/password-reset",
        data={**hidden_inputs(page.text), "new_password": new_password, "repeat": new_password},
    )
    assert again.status_code == 400, "a link works once"
    user = await db[store.USERS].find_one({"_id": "alice"})
    assert not user["must_change_password"]


async def test_disabling_a_client_ends_its_tokens(
    http: httpx.AsyncClient, db: Any, auth_state: AuthState
) -> None:
    client_id, _ = await _setup(db)
    body = await _tokens(http, client_id)
    await set_client_active(db=db, client_id=client_id, active=False, cache=auth_state.cache)
    assert await _read(http, body["access_token"]) == 401
    assert (await _refresh(http, client_id, body["refresh_token"])).status_code in (400, 401)
    await set_client_active(db=db, client_id=client_id, active=True, cache=auth_state.cache)
    assert await _read(http, body["access_token"]) == 401, "re-enabling does not revive old tokens"


async def test_rotation_never_extends_the_grant(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    body = await _tokens(http, client_id)
    first = await db[store.TOKENS].find_one({"_id": store.refresh_id(body["refresh_token"])})
    grant_end = store.as_utc(first["grant_expires_at"])
    assert store.as_utc(first["expires_at"]) <= grant_end
    token = body["refresh_token"]
    for _ in range(3):
        answer = await _refresh(http, client_id, token)
        assert answer.status_code == 200, answer.text
        token = answer.json()["refresh_token"]
        rotated = await db[store.TOKENS].find_one({"_id": store.refresh_id(token)})
        assert store.as_utc(rotated["grant_expires_at"]) == grant_end
        assert store.as_utc(rotated["expires_at"]) <= grant_end
    # Once the grant's absolute end has passed, no rotation helps.
    await db[store.TOKENS].update_one(
        {"_id": store.refresh_id(token)}, {"$set": {"grant_expires_at": store.expires_in(-1)}}
    )
    answer = await _refresh(http, client_id, token)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
