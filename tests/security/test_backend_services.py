"""SMART Backend Services against the full app: an RS384 client assertion (joserfc) buys a
``system/`` token at /oauth/token, and the FHIR API honours exactly the granted scopes."""

from __future__ import annotations

import time
import uuid

import httpx
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey

from fhir_server.auth.clients import ClientKind, create_client
from tests.security.leaks import keys
from tests.security.tokens import auth_state, bearer
from tests.security.world import World

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _assertion(client_id: str, key: RSAKey, token_url: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + 240, "jti": uuid.uuid4().hex}
    return jwt.encode({"alg": "RS384", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["RS384"])


async def test_backend_client_gets_a_system_token_and_uses_it(
    secured_app: FastAPI, anonymous: httpx.AsyncClient, world: World
) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": f"lab-{uuid.uuid4().hex[:8]}"})
    registered = await create_client(
        db=secured_app.state.db,
        kind=ClientKind.BACKEND,
        name="Reference lab",
        scopes="system/Patient.rs system/Observation.crs",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    client_id = registered.document["_id"]
    token_url = auth_state(secured_app).urls.token
    form = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.rs system/Observation.rs",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": _assertion(client_id, key, token_url),
    }
    answer = await anonymous.post(token_url, data=form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"].lower() == "bearer"
    assert body["scope"] == "system/Patient.rs system/Observation.rs"
    headers = bearer(body["access_token"])

    patients = await anonymous.get("/Patient", params={"_count": "100"}, headers=headers)
    assert patients.status_code == 200
    assert {world.a.ref(), world.b.ref()} <= keys(patients.json())  # system context: every patient
    lab = await anonymous.get(f"/Observation/{world.b.ids['Observation-lab']}", headers=headers)
    assert lab.status_code == 200
    refused = {
        "create (granted to the client, not asked for)": await anonymous.post(
            "/Observation",
            json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
            headers=headers,
        ),
        "Condition (not granted)": await anonymous.get("/Condition", headers=headers),
    }
    for what, response in refused.items():
        assert response.status_code == 403, what

    replayed = await anonymous.post(token_url, data=form)
    assert replayed.status_code in (400, 401), "an assertion's jti is single use"
    too_wide = await anonymous.post(
        token_url,
        data={
            **form,
            "scope": "system/Condition.rs",
            "client_assertion": _assertion(client_id, key, token_url),
        },
    )
    assert too_wide.status_code == 400 or "Condition" not in too_wide.json().get("scope", "")
