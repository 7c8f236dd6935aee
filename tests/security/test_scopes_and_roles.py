"""Through the full app: granular scopes, clinic roles, and the 401s every bad token gets."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import orjson
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey

from fhir_server.auth.roles import ROLES
from tests.security.leaks import assert_no_b, entry_resources, keys
from tests.security.tokens import base_claims, bearer, mint, sign_claims
from tests.security.world import LAB_CATEGORY, World


def role_scope(role: str) -> str:
    return " ".join(ROLES[role].scope_texts())


async def test_granular_scope_sees_only_lab_observations(
    secured_app: FastAPI, anonymous: httpx.AsyncClient, world: World
) -> None:
    headers = bearer(mint(secured_app, f"patient/Observation.rs?category={LAB_CATEGORY}", patient=world.a.id))
    found = await anonymous.get("/Observation", params={"_total": "accurate"}, headers=headers)
    assert found.status_code == 200, found.text
    assert keys(found.json()) == {f"Observation/{world.a.ids['Observation-lab']}"}
    assert found.json()["total"] == 1
    vitals = await anonymous.get("/Observation", params={"category": "vital-signs"}, headers=headers)
    assert entry_resources(vitals.json()) == []
    lab = await anonymous.get(f"/Observation/{world.a.ids['Observation-lab']}", headers=headers)
    assert lab.status_code == 200
    for hidden in (world.a.ids["Observation-vitals"], world.b.ids["Observation-lab"]):
        answer = await anonymous.get(f"/Observation/{hidden}", headers=headers)
        assert answer.status_code == 404
    assert (await anonymous.get(f"/Patient/{world.a.id}", headers=headers)).status_code == 403
    assert_no_b(found, world)


async def test_receptionist_reads_demographics_and_schedules_not_clinical_data(
    secured_app: FastAPI, anonymous: httpx.AsyncClient, world: World
) -> None:
    headers = bearer(mint(secured_app, role_scope("receptionist"), fhir_user="Practitioner/desk-1"))
    patients = await anonymous.get("/Patient", params={"_count": "100"}, headers=headers)
    assert patients.status_code == 200
    assert {world.a.ref(), world.b.ref()} <= keys(patients.json())
    appointment = await anonymous.get(f"/Appointment/{world.b.ids['Appointment']}", headers=headers)
    assert appointment.status_code == 200
    for path in (
        f"/Observation/{world.a.ids['Observation-lab']}",
        "/Observation",
        f"/Condition/{world.a.ids['Condition']}",
    ):
        answer = await anonymous.get(path, headers=headers)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "Seasonal" not in answer.text
    # Reception files identity and insurance scans: other documents exist, but not for reception.
    document = await anonymous.get(f"/DocumentReference/{world.a.ids['DocumentReference']}", headers=headers)
    assert document.status_code == 404
    revinclude = await anonymous.get(
        "/Patient", params={"_id": world.a.id, "_revinclude": "Observation:subject"}, headers=headers
    )
    assert revinclude.status_code in (200, 403)
    if revinclude.status_code == 200:
        assert keys(revinclude.json()) == {world.a.ref()}


async def test_accountant_sees_finance_only(
    secured_app: FastAPI, anonymous: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    invoice = {"resourceType": "Invoice", "status": "draft", "subject": {"reference": world.a.ref()}}
    created = await system_http.post("/Invoice", json=invoice)
    assert created.status_code == 201, created.text
    headers = bearer(mint(secured_app, role_scope("accountant"), fhir_user="Practitioner/books-1"))
    found = await anonymous.get("/Invoice", headers=headers)
    assert found.status_code == 200
    assert f"Invoice/{created.json()['id']}" in keys(found.json())
    assert (await anonymous.get(f"/Invoice/{created.json()['id']}", headers=headers)).status_code == 200
    for path in (f"/Observation/{world.a.ids['Observation-lab']}", f"/Condition/{world.a.ids['Condition']}"):
        assert (await anonymous.get(path, headers=headers)).status_code == 403, path
    # The minimum demographics to bill: the patient is readable (its other elements are filtered).
    assert (await anonymous.get(f"/Patient/{world.a.id}", headers=headers)).status_code == 200


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def _tampered(app: FastAPI) -> str:
    header, _payload, signature = _segments(mint(app, "user/Patient.rs"))
    widened = base_claims(app, "system/*.cruds")
    return f"{header}.{_b64(widened)}.{signature}"


def _alg_none(app: FastAPI) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(base_claims(app, 'user/Patient.rs'))}."


def _foreign_key(app: FastAPI) -> str:
    own = app.state.auth.server_key
    stranger = RSAKey.generate_key(2048, parameters={"kid": own.kid})
    header = {"alg": own.algorithm, "kid": own.kid, "typ": "at+jwt"}
    return jwt.encode(header, base_claims(app, "user/Patient.rs"), stranger, algorithms=[own.algorithm])


TokenMaker = Callable[[FastAPI], str | None]


def _claims(**changes: object) -> TokenMaker:
    def make(app: FastAPI) -> str:
        return sign_claims(app, {**base_claims(app, "user/Patient.rs"), **changes})

    return make


BAD_TOKENS: dict[str, TokenMaker] = {
    "missing": lambda app: None,
    "garbage": lambda app: "not-a-token",
    "expired": lambda app: mint(app, "user/Patient.rs", lifetime=60, issued_at=int(time.time()) - 3600),
    "tampered": _tampered,
    "alg-none": _alg_none,
    "foreign-key": _foreign_key,
    "wrong-audience": _claims(aud="https://elsewhere.example.org/fhir"),
    "wrong-issuer": _claims(iss="https://elsewhere.example.org/fhir"),
    "not-yet-valid": _claims(nbf=int(time.time()) + 3600),
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_bad_tokens_get_401(secured_app: FastAPI, anonymous: httpx.AsyncClient, kind: str) -> None:
    token = BAD_TOKENS[kind](secured_app)
    headers = {} if token is None else bearer(token)
    answer = await anonymous.get("/Patient", headers=headers)
    assert answer.status_code == 401, (kind, answer.text)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["resourceType"] == "OperationOutcome"
    good = await anonymous.get("/Patient", headers=bearer(mint(secured_app, "user/Patient.rs")))
    assert good.status_code == 200
