"""Helpers for the authorization tests: PKCE, the browser side of a launch, client assertions."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from fhir_server.assembly import build_services, close_services
from fhir_server.context import Principal, RequestContext
from fhir_server.settings import Settings
from fhir_server.store.repository import Session, WriteContext

FHIR_BASE = "http://testserver/fhir"
TOKEN_URL = "http://testserver/oauth/token"
REDIRECT_URI = "http://localhost:9000/callback"
EXTERNAL_ISSUER = "https://idp.example.org"
EXTERNAL_JWKS_URI = "https://idp.example.org/jwks"
EXTERNAL_AUDIENCE = FHIR_BASE
PASSWORD = "correct horse battery"


class ManualClock:
    """A clock the test moves by hand (JWKS cache pacing)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type=hidden name=(\w+) value="([^"]*)">', html))


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def authorize_params(client_id: str, pkce: Pkce, scope: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": secrets.token_urlsafe(8),
        "aud": FHIR_BASE,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


async def login(http: httpx.AsyncClient, params: dict[str, str], username: str) -> httpx.Response:
    """Open the authorize URL and sign in; returns the consent page response."""
    page = await http.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    return await http.post(
        "/oauth/login", data={**hidden_inputs(page.text), "username": username, "password": PASSWORD}
    )


async def consent(http: httpx.AsyncClient, consent_page: httpx.Response, **fields: str) -> dict[str, str]:
    """Approve on the consent page; returns the redirect's query parameters."""
    form = {**hidden_inputs(consent_page.text), "decision": "approve", **fields}
    answer = await http.post("/oauth/consent", data=form)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return query_of(location)


async def authorization_code(
    http: httpx.AsyncClient, client_id: str, pkce: Pkce, scope: str, username: str, **fields: str
) -> str:
    params = authorize_params(client_id, pkce, scope)
    page = await login(http, params, username)
    assert page.status_code == 200, page.text
    result = await consent(http, page, **fields)
    assert result["state"] == params["state"]
    return result["code"]


async def exchange_code(
    http: httpx.AsyncClient, client_id: str, code: str, pkce: Pkce, **extra: str
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": pkce.verifier,
    }
    data.update(extra)
    return await http.post("/oauth/token", data=data)


def rsa_key(kid: str) -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"kid": kid})
    return key


def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid})


def public_jwks(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def client_assertion(
    client_id: str,
    key: RSAKey | ECKey,
    algorithm: str,
    *,
    jti: str | None = None,
    expires_in: int = 240,
    audience: str = TOKEN_URL,
) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": now + expires_in,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode({"alg": algorithm, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[algorithm])


def backend_token_form(assertion: str, scope: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }


async def store_resources(db: Any, *resources: dict[str, Any]) -> None:
    """Store resources as the server does (versioned, indexed for search), under their own ids."""
    settings = Settings(mongodb_uri="mongodb://unused", base_url=FHIR_BASE)
    services = await build_services(settings, db)
    server = RequestContext(principal=Principal.system(), base_url=FHIR_BASE)
    try:
        for resource in resources:
            await services.repository.ensure_collections([resource["resourceType"]])

            async def put(session: Session, resource: dict[str, Any] = resource) -> None:
                await services.repository.update(
                    resource_type=resource["resourceType"],
                    resource_id=resource["id"],
                    resource=resource,
                    wctx=WriteContext(server, session),
                )

            await services.repository.transaction(put)
    finally:
        await close_services(services)  # its audit writer would outlive the test's database
