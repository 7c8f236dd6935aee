"""Administration over HTTP (``/admin``) and on the command line: the same operations."""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import pytest

from fhir_server.auth import store
from fhir_server.auth.cli import add_subcommands
from fhir_server.auth.clients import ClientKind, create_client
from fhir_server.auth.devtoken import make_dev_token
from fhir_server.auth.state import AuthState
from fhir_server.auth.tokens import TokenSubject, issue_access_token
from fhir_server.settings import Settings
from tests.auth.helpers import (
    PASSWORD,
    REDIRECT_URI,
    backend_token_form,
    client_assertion,
    public_jwks,
    rsa_key,
)


def _token(auth: AuthState, scope: str) -> dict[str, str]:
    who = TokenSubject(subject="root", client_id="dev-token", scopes=tuple(scope.split()))
    issued = issue_access_token(key=auth.server_key, urls=auth.urls, who=who, lifetime=300)
    return {"Authorization": f"Bearer {issued.token}"}


async def test_the_admin_api_needs_the_admin_scope(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    assert (await http.get("/admin/users")).status_code == 401
    answer = await http.get("/admin/users", headers=_token(auth_state, "user/*.cruds"))
    assert answer.status_code == 403
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert (await http.get("/admin/users", headers=_token(auth_state, "admin"))).status_code == 200


async def test_users_over_http(http: httpx.AsyncClient, auth_state: AuthState, db: Any) -> None:
    admin = _token(auth_state, "admin")
    created = await http.post(
        "/admin/users", json={"username": "cara", "password": PASSWORD, "role": "nurse"}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["must_change_password"] is True
    assert "password_hash" not in created.text
    bad = await http.post(
        "/admin/users", json={"username": "x", "password": "short", "role": "nurse"}, headers=admin
    )
    assert bad.status_code == 400
    listed = await http.get("/admin/users", headers=admin)
    assert [user["username"] for user in listed.json()] == ["cara"]
    disabled = await http.post("/admin/users/cara/disable", headers=admin)
    assert disabled.json()["can_sign_in"] is False
    assert (await http.post("/admin/users/cara/enable", headers=admin)).json()["can_sign_in"] is True
    role = await http.put("/admin/users/cara/role", json={"role": "receptionist"}, headers=admin)
    assert role.json()["role"] == "receptionist"
    assert (await http.put("/admin/users/cara/role", json={"role": "king"}, headers=admin)).status_code == 400
    reset = await http.post("/admin/users/cara/reset-password", json={"mode": "link"}, headers=admin)
    assert reset.json()["link"].startswith("http://testserver/oauth/password-reset?token=")
    temporary = await http.post("/admin/users/cara/reset-password", json={"mode": "temporary"}, headers=admin)
    assert len(temporary.json()["temporary_password"]) >= 10
    totp = await http.post("/admin/users/cara/totp", json={"required": True}, headers=admin)
    assert totp.json()["totp_required"] is True
    assert (await http.get("/admin/users/nobody", headers=admin)).status_code == 404
    user = await db[store.USERS].find_one({"_id": "cara"})
    assert user[store.GENERATION] == 5, "disable, enable, role change and two resets each ended its tokens"


async def test_clients_over_http(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    admin = _token(auth_state, "admin")
    created = await http.post(
        "/admin/clients",
        json={
            "kind": "confidential-symmetric",
            "name": "Portal",
            "client_id": "portal",
            "scope": "user/*.rs",
            "redirect_uris": [REDIRECT_URI],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    first_secret = created.json()["client_secret"]
    rotated = await http.post("/admin/clients/portal/rotate", json={}, headers=admin)
    assert rotated.json()["client_secret"] != first_secret
    assert "secret_hash" not in rotated.text
    old = await http.post(
        "/oauth/introspect", data={"token": "x"}, auth=httpx.BasicAuth("portal", first_secret)
    )
    assert old.status_code == 401, "the old secret no longer works"
    new = await http.post(
        "/oauth/introspect",
        data={"token": "x"},
        auth=httpx.BasicAuth("portal", rotated.json()["client_secret"]),
    )
    assert new.status_code == 200
    assert (await http.post("/admin/clients/portal/disable", headers=admin)).json()["active"] is False
    assert [c["client_id"] for c in (await http.get("/admin/clients", headers=admin)).json()] == ["portal"]
    assert (await http.post("/admin/clients/none/disable", headers=admin)).status_code == 404


async def test_the_admin_api_is_in_the_openapi_document(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    assert {"/admin/users", "/admin/users/{username}/disable", "/admin/clients/{client_id}/rotate"} <= set(
        schema["paths"]
    )


async def test_a_backend_registered_with_the_admin_scope_and_a_dev_token_may_administer(
    http: httpx.AsyncClient, settings: Settings, db: Any
) -> None:
    token = make_dev_token(settings=settings, scope="admin")
    assert (await http.get("/admin/clients", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    key = rsa_key("ops-1")
    await create_client(db=db, kind=ClientKind.BACKEND, name="Ops", scopes="admin", jwks=public_jwks(key),
                        client_id="ops")  # fmt: skip
    form = backend_token_form(client_assertion("ops", key, "RS384"), "admin system/Patient.rs")
    answer = await http.post("/oauth/token", data=form)
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "admin"
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    assert (await http.get("/admin/users", headers=headers)).status_code == 200


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


async def _cli(settings: Settings, db: Any, *argv: str) -> int:
    args = _parse(*argv)
    code: int = await args.auth_handler(args, settings, db)
    return code


async def test_users_and_clients_on_the_command_line(
    db: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FHIR_NEW_USER_PASSWORD", PASSWORD)
    assert await _cli(settings, db, "users", "create", "--username", "dan", "--role", "doctor") == 0
    assert await _cli(settings, db, "users", "disable", "dan") == 0
    assert await _cli(settings, db, "users", "list") == 0
    assert "dan\tdoctor\tdisabled" in capsys.readouterr().out
    assert await _cli(settings, db, "users", "enable", "dan") == 0
    assert await _cli(settings, db, "users", "set-role", "dan", "lab") == 0
    assert await _cli(settings, db, "users", "reset-password", "dan", "--link") == 0
    assert "password-reset?token=" in capsys.readouterr().out
    assert await _cli(settings, db, "users", "reset-password", "dan") == 0
    assert await _cli(settings, db, "users", "totp", "dan", "--remove", "--require") == 0
    assert await _cli(settings, db, "users", "show", "dan") == 0
    shown = capsys.readouterr().out
    assert '"role": "lab"' in shown and '"totp_required": true' in shown and "password_hash" not in shown
    assert await _cli(settings, db, "users", "disable", "nobody") == 2
    user = await db[store.USERS].find_one({"_id": "dan"})
    assert user["must_change_password"] and user[store.GENERATION] == 6

    create = ("clients", "create", "--kind", "confidential-symmetric", "--name", "Gw", "--client-id", "gw1")
    assert await _cli(settings, db, *create, "--scope", "user/*.rs", "--redirect-uri", REDIRECT_URI) == 0
    assert await _cli(settings, db, "clients", "rotate", "gw1") == 0
    assert "client_secret:" in capsys.readouterr().out
    assert await _cli(settings, db, "clients", "disable", "gw1") == 0
    assert await _cli(settings, db, "clients", "list") == 0
    assert "gw1\tconfidential-symmetric\tdisabled" in capsys.readouterr().out
    assert await _cli(settings, db, "clients", "rotate", "missing") == 2
