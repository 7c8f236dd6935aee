"""Access tokens for the security tests, signed with the app's own key (``app.state.auth``).

``mint`` follows ``fhir-server dev-token`` (``fhir_server.auth.devtoken.make_dev_token``): the same
request checks, then ``issue_access_token`` with the server's key and URLs. ``sign_claims`` signs
arbitrary claims with that key, for tokens the server must refuse (wrong audience ...).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from joserfc import jwt

from fhir_server.auth.devtoken import DEV_CLIENT_ID, check_dev_token_request
from fhir_server.auth.state import AuthState
from fhir_server.auth.tokens import ACCESS_TOKEN_TYPE, TokenSubject, issue_access_token, new_token_id


def auth_state(app: FastAPI) -> AuthState:
    state: AuthState = app.state.auth
    return state


def mint(
    app: FastAPI,
    scope: str,
    *,
    patient: str | None = None,
    fhir_user: str | None = None,
    lifetime: int | None = None,
    issued_at: int | None = None,
    role: str | None = None,
) -> str:
    """An access token for exactly ``scope`` (wildcards allowed), as ``dev-token`` would sign it."""
    auth = auth_state(app)
    scopes = check_dev_token_request(scope=scope, patient=patient, fhir_user=fhir_user, allow_wildcard=True)
    who = TokenSubject(
        subject=DEV_CLIENT_ID,
        client_id=DEV_CLIENT_ID,
        scopes=tuple(scopes),
        patient=patient,
        fhir_user=fhir_user,
        role=role,
    )
    issued = issue_access_token(
        key=auth.server_key,
        urls=auth.urls,
        who=who,
        lifetime=lifetime or auth.settings.access_token_lifetime,
        now=issued_at,
    )
    return issued.token


def base_claims(app: FastAPI, scope: str) -> dict[str, Any]:
    """The claims ``mint`` would put in a token, for tests that change one of them."""
    auth = auth_state(app)
    now = int(time.time())
    return {
        "iss": auth.urls.issuer,
        "aud": auth.urls.fhir_base,
        "sub": DEV_CLIENT_ID,
        "client_id": DEV_CLIENT_ID,
        "scope": scope,
        "iat": now,
        "exp": now + 300,
        "jti": new_token_id(),
    }


def sign_claims(app: FastAPI, claims: dict[str, Any]) -> str:
    """Sign ``claims`` with the server's own key and the access-token header."""
    key = auth_state(app).server_key
    header = {"alg": key.algorithm, "kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
    return jwt.encode(header, claims, key.key, algorithms=[key.algorithm])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
