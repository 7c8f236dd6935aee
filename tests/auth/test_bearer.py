"""Bearer token checks on a protected /fhir route: every 401 case, and external issuers via JWKS."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from fhir_server.auth.keys import server_key_from_pem
from fhir_server.auth.state import AuthState
from fhir_server.auth.tokens import TokenSubject, issue_access_token, issue_id_token
from tests.auth.helpers import (
    EXTERNAL_ISSUER,
    EXTERNAL_JWKS_URI,
    FHIR_BASE,
    ManualClock,
    public_jwks,
    rsa_key,
)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": FHIR_BASE,
        "aud": FHIR_BASE,
        "sub": "u1",
        "client_id": "c1",
        "scope": "user/Patient.rs",
        "iat": now,
        "exp": now + 300,
        "jti": "j1",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _sign(auth: AuthState, claims: dict[str, Any], **header: Any) -> str:
    key = auth.server_key
    full_header = {"alg": key.algorithm, "kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(full_header, claims, key.key, algorithms=[key.algorithm])


async def _get(http: httpx.AsyncClient, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return await http.get("/fhir/Patient", headers=headers)


async def test_a_valid_token_passes(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    answer = await _get(http, f"Bearer {_sign(auth_state, _claims())}")
    assert answer.status_code == 200
    assert answer.json()["scopes"] == ["user/Patient.rs"]


async def test_missing_token(http: httpx.AsyncClient) -> None:
    answer = await _get(http, None)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="fhir"'
    assert answer.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c"]
)
async def test_malformed_token(http: httpx.AsyncClient, authorization: str) -> None:
    answer = await _get(http, authorization)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=int(time.time()) - 120),
        _claims(aud="https://other.example/fhir"),
        _claims(aud=None),
        _claims(iss="https://unknown.example"),
        _claims(exp=None),
    ],
    ids=["expired", "wrong-audience", "no-audience", "wrong-issuer", "no-expiry"],
)
async def test_bad_claims(http: httpx.AsyncClient, auth_state: AuthState, claims: dict[str, Any]) -> None:
    answer = await _get(http, f"Bearer {_sign(auth_state, claims)}")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer realm="fhir", error="invalid_token"')


async def test_alg_none_is_refused(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    unsigned = (
        f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': auth_state.server_key.kid})}.{_b64(_claims())}."
    )
    answer = await _get(http, f"Bearer {unsigned}")
    assert answer.status_code == 401
    assert "invalid_token" in answer.headers["www-authenticate"]


async def test_hs256_with_the_public_key_is_refused(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": auth_state.server_key.kid}
    forged = f"{_b64(header)}.{_b64(_claims())}.c2lnbmF0dXJl"
    answer = await _get(http, f"Bearer {forged}")
    assert answer.status_code == 401


async def test_tampered_payload_is_refused(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    header, _payload, signature = _sign(auth_state, _claims()).split(".")
    widened = _b64(_claims(scope="user/*.cruds"))
    answer = await _get(http, f"Bearer {header}.{widened}.{signature}")
    assert answer.status_code == 401
    assert "invalid_token" in answer.headers["www-authenticate"]


async def test_token_signed_by_another_key_is_refused(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    other = server_key_from_pem(RSAKey.generate_key(2048).as_pem(private=True).decode())
    header = {"alg": other.algorithm, "kid": auth_state.server_key.kid, "typ": "at+jwt"}
    token = jwt.encode(header, _claims(), other.key, algorithms=[other.algorithm])
    answer = await _get(http, f"Bearer {token}")
    assert answer.status_code == 401


async def test_id_token_is_not_an_access_token(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    id_token = issue_id_token(
        key=auth_state.server_key,
        urls=auth_state.urls,
        subject="u1",
        client_id=FHIR_BASE,  # even with the FHIR base as its audience
        fhir_user=None,
        nonce=None,
        lifetime=300,
    )
    answer = await _get(http, f"Bearer {id_token}")
    assert answer.status_code == 401


async def test_issued_token_round_trip(http: httpx.AsyncClient, auth_state: AuthState) -> None:
    who = TokenSubject(subject="nurse1", client_id="app", scopes=("patient/Observation.rs",), patient="p9")
    issued = issue_access_token(key=auth_state.server_key, urls=auth_state.urls, who=who, lifetime=60)
    answer = await _get(http, f"Bearer {issued.token}")
    assert answer.json() == {
        "subject": "nurse1",
        "client_id": "app",
        "scopes": ["patient/Observation.rs"],
        "patient": "p9",
        "fhir_user": None,
    }


# --- external issuers ---------------------------------------------------------------------------


def _external_token(key: RSAKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": EXTERNAL_ISSUER,
        "aud": FHIR_BASE,
        "sub": "ext-user",
        "scp": ["user/Observation.rs", "openid"],
        "fhirUser": f"{FHIR_BASE}/Practitioner/77",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])


async def test_external_issuer_token_with_key_rotation(http: httpx.AsyncClient, clock: ManualClock) -> None:
    old_key, new_key, unknown_key = rsa_key("idp-1"), rsa_key("idp-2"), rsa_key("idp-3")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(EXTERNAL_JWKS_URI)
        route.respond(json=public_jwks(old_key))
        first = await _get(http, f"Bearer {_external_token(old_key)}")
        assert first.status_code == 200, first.text
        assert first.json()["scopes"] == ["openid", "user/Observation.rs"]
        assert first.json()["fhir_user"] == "Practitioner/77"
        again = await _get(http, f"Bearer {_external_token(old_key)}")
        assert again.status_code == 200
        assert route.call_count == 1  # cached

        # The issuer rotates: a token with an unknown kid triggers one re-fetch...
        route.respond(json=public_jwks(new_key))
        clock.now += 61
        rotated = await _get(http, f"Bearer {_external_token(new_key)}")
        assert rotated.status_code == 200, rotated.text
        assert route.call_count == 2
        # ... but not another one right away (rate limit): an unknown kid is simply refused.
        refused = await _get(http, f"Bearer {_external_token(unknown_key)}")
        assert refused.status_code == 401
        assert route.call_count == 2


async def test_external_token_with_wrong_audience_is_refused(http: httpx.AsyncClient) -> None:
    key = rsa_key("idp-aud")
    with respx.mock() as mock:
        mock.get(EXTERNAL_JWKS_URI).respond(json=public_jwks(key))
        answer = await _get(http, f"Bearer {_external_token(key, aud='https://someone-else.example')}")
    assert answer.status_code == 401
    assert "invalid_token" in answer.headers["www-authenticate"]


async def test_issuer_unreachable_means_401_not_500(http: httpx.AsyncClient) -> None:
    key = rsa_key("idp-down")
    with respx.mock() as mock:
        mock.get(EXTERNAL_JWKS_URI).respond(status_code=503)
        answer = await _get(http, f"Bearer {_external_token(key)}")
    assert answer.status_code == 401
