"""Authorization code flow with PKCE, login, consent and patient picker, id_token, refresh, revoke."""

from __future__ import annotations

from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from fhir_server.auth.clients import ClientKind, create_client
from fhir_server.auth.users import create_user
from tests.auth.helpers import (
    FHIR_BASE,
    PASSWORD,
    REDIRECT_URI,
    Pkce,
    authorization_code,
    authorize_params,
    consent,
    exchange_code,
    hidden_inputs,
    login,
    query_of,
    store_resources,
)

APP_SCOPES = "launch launch/patient openid fhirUser offline_access online_access patient/*.cruds user/*.rs"


async def _setup(
    db: Any, role: str = "doctor", kind: ClientKind = ClientKind.PUBLIC
) -> tuple[str, str | None]:
    await create_user(db=db, username=f"{role}1", password=PASSWORD, role=role, fhir_user="Practitioner/p1")
    registered = await create_client(
        db=db, kind=kind, name="Test app", scopes=APP_SCOPES, redirect_uris=[REDIRECT_URI]
    )
    await store_resources(db, {"resourceType": "Patient", "id": "pat1", "name": [{"family": "Doe"}]})
    return registered.document["_id"], registered.secret


async def _tokens(http: httpx.AsyncClient, db: Any, scope: str) -> tuple[str, dict[str, Any]]:
    client_id, _ = await _setup(db)
    pkce = Pkce()
    code = await authorization_code(http, client_id, pkce, scope, "doctor1", patient="pat1")
    answer = await exchange_code(http, client_id, code, pkce)
    assert answer.status_code == 200, answer.text
    return client_id, answer.json()


async def test_standalone_launch_with_patient_picker_gives_tokens_that_work(
    http: httpx.AsyncClient, db: Any
) -> None:
    client_id, _ = await _setup(db)
    pkce = Pkce()
    params = authorize_params(
        client_id, pkce, "launch/patient openid fhirUser offline_access patient/*.rs", nonce="n-1"
    )
    page = await login(http, params, "doctor1")
    assert page.status_code == 200
    assert "name=patient" not in page.text  # nothing listed, so nothing preselected, before a search
    found = await http.post(
        "/oauth/consent", data={**hidden_inputs(page.text), "action": "search", "name": "do"}
    )
    assert found.status_code == 200, found.text
    assert 'value="pat1"' in found.text and "Doe" in found.text  # the picker finds the patient by name
    assert "checked" not in found.text
    result = await consent(http, found, patient="pat1")
    assert result["state"] == params["state"]
    answer = await exchange_code(http, client_id, result["code"], pkce)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["patient"] == "pat1"
    assert set(body["scope"].split()) == {
        "launch/patient",
        "openid",
        "fhirUser",
        "offline_access",
        "patient/*.rs",
    }
    assert body["refresh_token"]

    probe = await http.get("/fhir/Patient", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert probe.status_code == 200
    assert probe.json()["patient"] == "pat1"
    assert probe.json()["fhir_user"] == "Practitioner/p1"

    keys = KeySet.import_key_set((await http.get("/oauth/jwks")).json())
    id_token = jwt.decode(body["id_token"], keys)
    assert id_token.claims["aud"] == client_id
    assert id_token.claims["iss"] == FHIR_BASE
    assert id_token.claims["sub"] == "doctor1"
    assert id_token.claims["nonce"] == "n-1"
    assert id_token.claims["fhirUser"] == f"{FHIR_BASE}/Practitioner/p1"


async def test_pkce_is_required_and_must_be_s256(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    pkce = Pkce()
    missing = authorize_params(client_id, pkce, "patient/*.rs")
    del missing["code_challenge"], missing["code_challenge_method"]
    plain = authorize_params(client_id, pkce, "patient/*.rs", code_challenge_method="plain")
    plain["code_challenge"] = pkce.verifier
    for params in (missing, plain):
        answer = await http.get("/oauth/authorize", params=params)
        assert answer.status_code == 302
        redirected = query_of(answer.headers["location"])
        assert answer.headers["location"].startswith(REDIRECT_URI)
        assert redirected["error"] == "invalid_request"
        assert redirected["state"] == params["state"]


async def test_wrong_code_verifier_is_refused(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    pkce = Pkce()
    code = await authorization_code(
        http, client_id, pkce, "launch/patient patient/*.rs", "doctor1", patient="pat1"
    )
    answer = await exchange_code(http, client_id, code, Pkce())
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_unregistered_redirect_uri_is_shown_not_redirected(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    params = authorize_params(client_id, Pkce(), "patient/*.rs", redirect_uri="https://evil.example/cb")
    answer = await http.get("/oauth/authorize", params=params)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "redirect_uri is not registered" in answer.text


async def test_redirect_uri_must_match_at_the_token_endpoint(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    pkce = Pkce()
    code = await authorization_code(
        http, client_id, pkce, "launch/patient patient/*.rs", "doctor1", patient="pat1"
    )
    answer = await exchange_code(http, client_id, code, pkce, redirect_uri="http://localhost:9000/other")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_aud_must_be_this_server(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    params = authorize_params(client_id, Pkce(), "patient/*.rs", aud="https://other.example/fhir")
    answer = await http.get("/oauth/authorize", params=params)
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


async def test_code_reuse_is_refused_and_revokes_what_it_issued(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    pkce = Pkce()
    scope = "launch/patient offline_access patient/*.rs"
    code = await authorization_code(http, client_id, pkce, scope, "doctor1", patient="pat1")
    first = await exchange_code(http, client_id, code, pkce)
    assert first.status_code == 200
    second = await exchange_code(http, client_id, code, pkce)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    probe = await http.get(
        "/fhir/Patient", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert probe.status_code == 401
    refreshed = await http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"


async def test_refresh_rotates_and_reuse_revokes_the_grant(http: httpx.AsyncClient, db: Any) -> None:
    client_id, body = await _tokens(http, db, "launch/patient offline_access patient/*.rs")
    old_refresh = body["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": old_refresh, "client_id": client_id}
    rotated = await http.post("/oauth/token", data=form)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != old_refresh
    assert new["patient"] == "pat1"
    ok = await http.get("/fhir/Patient", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert ok.status_code == 200

    reused = await http.post("/oauth/token", data=form)
    assert reused.status_code == 400
    assert "reuse" in reused.json()["error_description"]
    # The whole grant is gone: the rotated refresh token and its access token too.
    after = await http.post("/oauth/token", data={**form, "refresh_token": new["refresh_token"]})
    assert after.json()["error"] == "invalid_grant"
    denied = await http.get("/fhir/Patient", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert denied.status_code == 401


async def test_refresh_may_narrow_but_not_widen(http: httpx.AsyncClient, db: Any) -> None:
    client_id, body = await _tokens(http, db, "launch/patient offline_access patient/*.rs")
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": client_id}
    wider = await http.post("/oauth/token", data={**form, "scope": "patient/*.cruds offline_access"})
    assert wider.json()["error"] == "invalid_scope"
    narrower = await http.post(
        "/oauth/token", data={**form, "scope": "patient/Observation.rs offline_access"}
    )
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"].split() == ["offline_access", "patient/Observation.rs"]


async def test_introspection_and_revocation(http: httpx.AsyncClient, db: Any) -> None:
    client_id, body = await _tokens(http, db, "launch/patient offline_access patient/*.rs")
    resource_server = await create_client(
        db=db, kind=ClientKind.SYMMETRIC, name="rs", scopes="user/Patient.rs", redirect_uris=[REDIRECT_URI]
    )
    basic = httpx.BasicAuth(resource_server.document["_id"], resource_server.secret or "")
    active = await http.post("/oauth/introspect", data={"token": body["access_token"]}, auth=basic)
    assert active.status_code == 200
    assert active.json()["active"] is True
    assert active.json()["scope"] == body["scope"]
    assert active.json()["patient"] == "pat1"
    refresh = await http.post("/oauth/introspect", data={"token": body["refresh_token"]}, auth=basic)
    assert refresh.json()["active"] is True

    # Public clients may not introspect.
    public = await http.post(
        "/oauth/introspect", data={"token": body["access_token"], "client_id": client_id}
    )
    assert public.json()["error"] == "invalid_client"
    # Another client cannot revoke this client's token.
    foreign = await http.post("/oauth/revoke", data={"token": body["access_token"]}, auth=basic)
    assert foreign.status_code == 400

    revoked = await http.post("/oauth/revoke", data={"token": body["access_token"], "client_id": client_id})
    assert revoked.status_code == 200
    inactive = await http.post("/oauth/introspect", data={"token": body["access_token"]}, auth=basic)
    assert inactive.json() == {"active": False}
    probe = await http.get("/fhir/Patient", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert probe.status_code == 401

    await http.post("/oauth/revoke", data={"token": body["refresh_token"], "client_id": client_id})
    gone = await http.post("/oauth/introspect", data={"token": body["refresh_token"]}, auth=basic)
    assert gone.json() == {"active": False}
    unknown = await http.post("/oauth/revoke", data={"token": "no-such-token", "client_id": client_id})
    assert unknown.status_code == 200


async def test_wrong_password_shows_the_login_again(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    page = await http.get("/oauth/authorize", params=authorize_params(client_id, Pkce(), "patient/*.rs"))
    answer = await http.post(
        "/oauth/login",
        data={**hidden_inputs(page.text), "username": "doctor1", "password": "wrong password!"},
    )
    assert answer.status_code == 401
    assert "Wrong username or password" in answer.text
    assert "consent" not in hidden_inputs(answer.text)
    assert 'value="doctor1"' in answer.text  # the username stays


async def test_role_narrows_what_the_app_gets(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db, role="receptionist")
    pkce = Pkce()
    scope = "launch/patient patient/Patient.rs patient/Observation.rs user/Appointment.cruds"
    code = await authorization_code(http, client_id, pkce, scope, "receptionist1", patient="pat1")
    body = (await exchange_code(http, client_id, code, pkce)).json()
    assert set(body["scope"].split()) == {"launch/patient", "patient/Patient.rs", "user/Appointment.rs"}


async def test_role_without_any_requested_scope_is_denied(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db, role="accountant")
    params = authorize_params(client_id, Pkce(), "launch/patient patient/Observation.rs")
    answer = await login(http, params, "accountant1")
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "access_denied"


async def test_user_may_deny(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    params = authorize_params(client_id, Pkce(), "launch/patient patient/*.rs")
    page = await login(http, params, "doctor1")
    answer = await http.post("/oauth/consent", data={**hidden_inputs(page.text), "decision": "deny"})
    assert answer.status_code == 303
    assert query_of(answer.headers["location"]) == {"error": "access_denied", "state": params["state"]}


async def test_consent_form_needs_the_token_from_the_login(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    page = await login(http, authorize_params(client_id, Pkce(), "launch/patient patient/*.rs"), "doctor1")
    forged = {**hidden_inputs(page.text), "consent": "guessed", "decision": "approve", "patient": "pat1"}
    answer = await http.post("/oauth/consent", data=forged)
    assert answer.status_code == 403


async def test_picker_refuses_an_unknown_patient(http: httpx.AsyncClient, db: Any) -> None:
    client_id, _ = await _setup(db)
    page = await login(http, authorize_params(client_id, Pkce(), "launch/patient patient/*.rs"), "doctor1")
    answer = await http.post(
        "/oauth/consent", data={**hidden_inputs(page.text), "decision": "approve", "patient": "nobody"}
    )
    assert answer.status_code == 400


async def test_confidential_symmetric_client_authenticates_with_its_secret(
    http: httpx.AsyncClient, db: Any
) -> None:
    client_id, secret = await _setup(db, kind=ClientKind.SYMMETRIC)
    assert secret
    pkce = Pkce()
    scope = "launch/patient patient/*.rs"
    code = await authorization_code(http, client_id, pkce, scope, "doctor1", patient="pat1")
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
    }
    wrong = await http.post("/oauth/token", data=data, auth=httpx.BasicAuth(client_id, "not-the-secret"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    # A failed client authentication does not consume the code.
    right = await http.post("/oauth/token", data=data, auth=httpx.BasicAuth(client_id, secret))
    assert right.status_code == 200, right.text
