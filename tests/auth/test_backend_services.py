"""SMART Backend Services: client_credentials with private_key_jwt (RS384, ES384)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import respx

from fhir_server.auth.clients import ClientError, ClientKind, create_client
from tests.auth.helpers import (
    REDIRECT_URI,
    backend_token_form,
    client_assertion,
    ec_key,
    public_jwks,
    rsa_key,
)

LAB_JWKS_URL = "https://lab.example.org/.well-known/jwks.json"


@pytest.fixture(scope="module")
def lab_rsa() -> Any:
    return rsa_key("lab-rsa-1")


@pytest.fixture(scope="module")
def lab_ec() -> Any:
    return ec_key("lab-ec-1")


async def _lab_client(db: Any, **keys: Any) -> str:
    registered = await create_client(
        db=db,
        kind=ClientKind.BACKEND,
        name="Lab",
        scopes="system/Observation.crus system/DiagnosticReport.crus system/Patient.rs",
        **keys,
    )
    return registered.document["_id"]


async def test_rs384_assertion_against_registered_jwks(
    http: httpx.AsyncClient, db: Any, lab_rsa: Any
) -> None:
    client_id = await _lab_client(db, jwks=public_jwks(lab_rsa))
    form = backend_token_form(
        client_assertion(client_id, lab_rsa, "RS384"), "system/Observation.cru system/Patient.rs"
    )
    answer = await http.post("/oauth/token", data=form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["scope"] == "system/Observation.cru system/Patient.rs"
    assert "refresh_token" not in body
    probe = await http.get("/fhir/Patient", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert probe.json()["client_id"] == client_id
    assert probe.json()["subject"] == client_id


async def test_es384_assertion_against_jwks_url(http: httpx.AsyncClient, db: Any, lab_ec: Any) -> None:
    client_id = await _lab_client(db, jwks_uri=LAB_JWKS_URL)
    with respx.mock(assert_all_called=True) as mock:
        mock.get(LAB_JWKS_URL).respond(json=public_jwks(lab_ec))
        form = backend_token_form(client_assertion(client_id, lab_ec, "ES384"), "system/Observation.rs")
        answer = await http.post("/oauth/token", data=form)
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "system/Observation.rs"


async def test_replayed_jti_is_refused(http: httpx.AsyncClient, db: Any, lab_rsa: Any) -> None:
    client_id = await _lab_client(db, jwks=public_jwks(lab_rsa))
    jti = uuid.uuid4().hex
    first = await http.post(
        "/oauth/token",
        data=backend_token_form(client_assertion(client_id, lab_rsa, "RS384", jti=jti), "system/Patient.rs"),
    )
    assert first.status_code == 200
    again = await http.post(
        "/oauth/token",
        data=backend_token_form(client_assertion(client_id, lab_rsa, "RS384", jti=jti), "system/Patient.rs"),
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_client"
    assert "jti" in again.json()["error_description"]


@pytest.mark.parametrize(
    ("expires_in", "audience", "reason"),
    [
        (-120, "http://testserver/oauth/token", "exp"),
        (3600, "http://testserver/oauth/token", "five minutes"),
        (240, "http://testserver/fhir", "aud"),
    ],
)
async def test_bad_assertion_claims_are_refused(
    http: httpx.AsyncClient, db: Any, lab_rsa: Any, expires_in: int, audience: str, reason: str
) -> None:
    client_id = await _lab_client(db, jwks=public_jwks(lab_rsa))
    assertion = client_assertion(client_id, lab_rsa, "RS384", expires_in=expires_in, audience=audience)
    answer = await http.post("/oauth/token", data=backend_token_form(assertion, "system/Patient.rs"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"
    assert reason in answer.json()["error_description"]


async def test_unknown_kid_is_refused(http: httpx.AsyncClient, db: Any, lab_rsa: Any) -> None:
    client_id = await _lab_client(db, jwks=public_jwks(lab_rsa))
    stranger = rsa_key("someone-else")
    answer = await http.post(
        "/oauth/token",
        data=backend_token_form(client_assertion(client_id, stranger, "RS384"), "system/Patient.rs"),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"


async def test_key_of_the_right_kid_but_wrong_material_is_refused(
    http: httpx.AsyncClient, db: Any, lab_rsa: Any
) -> None:
    client_id = await _lab_client(db, jwks=public_jwks(lab_rsa))
    impostor = rsa_key(lab_rsa.kid)
    answer = await http.post(
        "/oauth/token",
        data=backend_token_form(client_assertion(client_id, impostor, "RS384"), "system/Patient.rs"),
    )
    assert answer.json()["error"] == "invalid_client"


async def test_scopes_are_cut_to_the_registration(http: httpx.AsyncClient, db: Any, lab_rsa: Any) -> None:
    client_id = await _lab_client(db, jwks=public_jwks(lab_rsa))
    wide = backend_token_form(client_assertion(client_id, lab_rsa, "RS384"), "system/*.cruds")
    answer = await http.post("/oauth/token", data=wide)
    assert answer.status_code == 200
    assert set(answer.json()["scope"].split()) == {
        "system/Observation.crus",
        "system/DiagnosticReport.crus",
        "system/Patient.rs",
    }
    nothing = backend_token_form(
        client_assertion(client_id, lab_rsa, "RS384"), "system/Invoice.rs user/Patient.rs"
    )
    refused = await http.post("/oauth/token", data=nothing)
    assert refused.json()["error"] == "invalid_scope"


async def test_public_app_cannot_use_client_credentials(http: httpx.AsyncClient, db: Any) -> None:
    app = await create_client(
        db=db, kind=ClientKind.PUBLIC, name="app", scopes="patient/*.rs", redirect_uris=[REDIRECT_URI]
    )
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "system/*.rs", "client_id": app.document["_id"]},
    )
    assert answer.json()["error"] == "unauthorized_client"


async def test_registration_rules(db: Any, lab_rsa: Any) -> None:
    with pytest.raises(ClientError, match="system/"):
        await create_client(
            db=db, kind=ClientKind.PUBLIC, name="x", scopes="system/*.rs", redirect_uris=[REDIRECT_URI]
        )
    with pytest.raises(ClientError, match="exactly one"):
        await create_client(db=db, kind=ClientKind.BACKEND, name="x", scopes="system/*.rs")
    with pytest.raises(ClientError, match="https"):
        await create_client(
            db=db,
            kind=ClientKind.PUBLIC,
            name="x",
            scopes="patient/*.rs",
            redirect_uris=["http://evil.example/cb"],
        )
    with pytest.raises(ClientError, match="public keys only"):
        await create_client(
            db=db,
            kind=ClientKind.BACKEND,
            name="x",
            scopes="system/*.rs",
            jwks={"keys": [lab_rsa.as_dict(private=True)]},
        )
