"""``users``, ``clients``, ``dev-token`` and ``launch`` commands, and the signing key on disk."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.auth import store
from fhir_server.auth.cli import add_subcommands, first_token_hint
from fhir_server.auth.devtoken import DevTokenError, make_dev_token
from fhir_server.auth.keys import key_path, load_server_key
from fhir_server.auth.passwords import verify_password
from fhir_server.auth.state import build_auth_state
from fhir_server.settings import Settings
from tests.auth.conftest import build_test_app
from tests.auth.helpers import FHIR_BASE, PASSWORD, public_jwks, rsa_key


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace, settings: Settings, db: Any) -> int:
    code: int = await args.auth_handler(args, settings, db)
    return code


async def test_users_create_hashes_the_password_from_the_environment(
    db: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLINIC_PW", PASSWORD)
    args = _parse(
        "users",
        "create",
        "--username",
        "ann",
        "--role",
        "nurse",
        "--fhir-user",
        "Practitioner/9",
        "--password-env",
        "CLINIC_PW",
    )
    assert await _run(args, settings, db) == 0
    user = await db[store.USERS].find_one({"_id": "ann"})
    assert user["role"] == "nurse"
    assert user["fhir_user"] == "Practitioner/9"
    assert user["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in json.dumps(user, default=str)
    assert verify_password(user["password_hash"], PASSWORD)
    assert "created user ann" in capsys.readouterr().out
    # A second user of the same name is refused.
    assert await _run(args, settings, db) == 2


async def test_users_create_refuses_a_short_password(
    db: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_NEW_USER_PASSWORD", "short")
    args = _parse("users", "create", "--username", "bob", "--role", "doctor")
    assert await _run(args, settings, db) == 2
    assert await db[store.USERS].find_one({"_id": "bob"}) is None


async def test_clients_create_variants(
    db: Any, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public = _parse(
        "clients",
        "create",
        "--kind",
        "public",
        "--name",
        "App",
        "--client-id",
        "app-1",
        "--redirect-uri",
        "http://localhost:1/cb",
        "--scope",
        "launch/patient patient/*.rs",
    )
    assert await _run(public, settings, db) == 0
    confidential = _parse(
        "clients",
        "create",
        "--kind",
        "confidential-symmetric",
        "--name",
        "Portal",
        "--client-id",
        "portal",
        "--redirect-uri",
        "https://portal.example/cb",
        "--scope",
        "user/*.rs",
    )
    assert await _run(confidential, settings, db) == 0
    out = capsys.readouterr().out
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("client_secret:"))
    stored = await db[store.CLIENTS].find_one({"_id": "portal"})
    assert stored["secret_hash"] == store.secret_hash(secret)

    jwks_file = tmp_path / "lab.jwks.json"
    jwks_file.write_text(json.dumps(public_jwks(rsa_key("lab-1"))))
    backend = _parse(
        "clients",
        "create",
        "--kind",
        "backend",
        "--name",
        "Lab",
        "--client-id",
        "lab",
        "--role",
        "lab",
        "--jwks-file",
        str(jwks_file),
    )
    assert await _run(backend, settings, db) == 2, "the lab role names the lab: --fhir-user is needed"
    assert await _run(_parse(*backend_args(backend), "--fhir-user", "Organization/lab-1"), settings, db) == 0
    lab = await db[store.CLIENTS].find_one({"_id": "lab"})
    assert "system/Observation.crus?performer=Organization/lab-1" in lab["scopes"]
    assert lab["role"] == "lab" and lab["fhir_user"] == "Organization/lab-1"
    by_url = _parse(
        "clients",
        "create",
        "--kind",
        "backend",
        "--name",
        "EHR",
        "--jwks-url",
        "https://ehr.example/jwks",
        "--scope",
        "system/*.rs",
    )
    assert await _run(by_url, settings, db) == 0
    no_keys = _parse("clients", "create", "--kind", "backend", "--name", "X", "--scope", "system/*.rs")
    assert await _run(no_keys, settings, db) == 2


def backend_args(args: argparse.Namespace) -> list[str]:
    return [
        *("clients", "create", "--kind", args.kind, "--name", args.name, "--client-id", args.client_id),
        *("--role", args.role, "--jwks-file", args.jwks_file),
    ]


def test_dev_token_carries_exactly_the_requested_scopes(settings: Settings) -> None:
    args = _parse("dev-token", "--scope", "patient/Observation.rs patient/Patient.r", "--patient", "p1")
    assert args.auth_needs_db is False
    token = make_dev_token(settings=settings, scope=args.scope, patient=args.patient)
    claims = json.loads(_segment(token.split(".")[1]))
    assert claims["scope"] == "patient/Observation.rs patient/Patient.r"
    assert claims["patient"] == "p1"
    assert claims["aud"] == FHIR_BASE


@pytest.mark.parametrize(
    ("scope", "patient", "message"),
    [
        ("user/*.rs", None, "wildcard"),
        ("*.*", None, "not a valid SMART scope"),
        ("patient/Observation.rs", None, "--patient"),
        ("user/Observation.rs", "p1", "only makes sense"),
        ("user/Observation.rc", None, "not a valid"),
        ("openid user/Patient.r", None, "not data scopes"),
        ("", None, "at least one"),
    ],
)
def test_dev_token_refusals(settings: Settings, scope: str, patient: str | None, message: str) -> None:
    with pytest.raises(DevTokenError, match=message):
        make_dev_token(settings=settings, scope=scope, patient=patient)


def test_dev_token_wildcard_only_when_asked(settings: Settings) -> None:
    token = make_dev_token(settings=settings, scope="user/*.rs", allow_wildcard=True)
    assert json.loads(_segment(token.split(".")[1]))["scope"] == "user/*.rs"


async def test_dev_token_from_a_generated_key_is_accepted_by_the_server(db: Any, tmp_path: Path) -> None:
    settings = Settings(
        mongodb_uri="mongodb://unused", data_dir=tmp_path / "data", base_url=FHIR_BASE, auth_enabled=True
    )
    token = make_dev_token(settings=settings, scope="user/Patient.rs")
    path = key_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_server_key(settings).kid == load_server_key(settings).kid  # generated once, reused
    auth = await build_auth_state(settings, db)
    try:
        app = await build_test_app(settings, db, auth)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            answer = await http.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
    finally:
        await auth.aclose()
    assert answer.status_code == 200
    assert answer.json()["scopes"] == ["user/Patient.rs"]


async def test_launch_command(db: Any, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse("launch", "--patient", "p1", "--encounter", "e1", "--client-id", "app-1")
    assert await _run(args, settings, db) == 0
    launch = capsys.readouterr().out.split()[1]
    stored = await db[store.LAUNCHES].find_one({"_id": launch})
    assert (stored["patient"], stored["encounter"], stored["client_id"]) == ("p1", "e1", "app-1")


def test_first_token_hint(settings: Settings) -> None:
    assert "fhir-server dev-token --scope" in first_token_hint(settings)
    assert "without a token" in first_token_hint(settings.model_copy(update={"auth_enabled": False}))


def _segment(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
