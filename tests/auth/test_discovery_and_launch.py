"""Discovery documents, the CapabilityStatement security fragment, JWKS, and the EHR launch."""

from __future__ import annotations

from typing import Any

import httpx

from fhir_server.auth.clients import ClientKind, create_client
from fhir_server.auth.devtoken import make_dev_token
from fhir_server.auth.discovery import OAUTH_URIS_EXTENSION, smart_security_component
from fhir_server.auth.users import create_user
from fhir_server.settings import Settings
from tests.auth.helpers import (
    FHIR_BASE,
    PASSWORD,
    REDIRECT_URI,
    Pkce,
    authorize_params,
    consent,
    exchange_code,
    login,
    query_of,
)

REQUIRED_CAPABILITIES = {
    "launch-standalone",
    "launch-ehr",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-standalone-patient",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "permission-offline",
    "sso-openid-connect",
}


async def test_smart_configuration(http: httpx.AsyncClient) -> None:
    answer = await http.get("/fhir/.well-known/smart-configuration")
    assert answer.status_code == 200
    config = answer.json()
    assert set(config["capabilities"]) >= REQUIRED_CAPABILITIES
    assert config["issuer"] == FHIR_BASE
    assert config["authorization_endpoint"] == "http://testserver/oauth/authorize"
    assert config["token_endpoint"] == "http://testserver/oauth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"RS384", "ES384"} <= set(config["token_endpoint_auth_signing_alg_values_supported"])
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert {"authorization_code", "client_credentials", "refresh_token"} <= set(
        config["grant_types_supported"]
    )
    jwks = (await http.get("/oauth/jwks")).json()
    assert jwks["keys"][0]["kid"]
    assert "d" not in jwks["keys"][0]  # public only
    openid = (await http.get("/fhir/.well-known/openid-configuration")).json()
    assert openid["issuer"] == FHIR_BASE


def test_capability_statement_security(settings: Settings) -> None:
    security = smart_security_component(settings)
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    extension = next(item for item in security["extension"] if item["url"] == OAUTH_URIS_EXTENSION)
    uris = {item["url"]: item["valueUri"] for item in extension["extension"]}
    assert uris["authorize"] == "http://testserver/oauth/authorize"
    assert uris["token"] == "http://testserver/oauth/token"


async def _ehr_setup(db: Any) -> str:
    await create_user(db=db, username="doc", password=PASSWORD, role="doctor")
    app = await create_client(
        db=db,
        kind=ClientKind.PUBLIC,
        name="Chart app",
        client_id="chart-app",
        scopes="launch openid fhirUser patient/*.rs user/*.rs",
        redirect_uris=[REDIRECT_URI],
    )
    return app.document["_id"]


async def _create_launch(http: httpx.AsyncClient, settings: Settings, **body: Any) -> httpx.Response:
    ehr_token = make_dev_token(settings=settings, scope="system/Patient.rs")
    return await http.post("/oauth/launch", json=body, headers={"Authorization": f"Bearer {ehr_token}"})


async def test_ehr_launch_binds_the_patient(http: httpx.AsyncClient, db: Any, settings: Settings) -> None:
    client_id = await _ehr_setup(db)
    created = await _create_launch(http, settings, patient="p42", encounter="e7", client_id=client_id)
    assert created.status_code == 201, created.text
    launch = created.json()["launch"]
    assert created.json()["iss"] == FHIR_BASE

    pkce = Pkce()
    params = authorize_params(client_id, pkce, "launch openid patient/*.rs", launch=launch)
    page = await login(http, params, "doc")
    assert "p42" in page.text and "<select" not in page.text  # no picker: the EHR chose
    code = (await consent(http, page))["code"]
    body = (await exchange_code(http, client_id, code, pkce)).json()
    assert (body["patient"], body["encounter"]) == ("p42", "e7")

    # A launch is used once.
    again = await http.get(
        "/oauth/authorize", params=authorize_params(client_id, Pkce(), "launch patient/*.rs", launch=launch)
    )
    assert query_of(again.headers["location"])["error"] == "invalid_request"


async def test_launch_bound_to_another_client_is_refused(
    http: httpx.AsyncClient, db: Any, settings: Settings
) -> None:
    client_id = await _ehr_setup(db)
    launch = (await _create_launch(http, settings, patient="p1", client_id="other-app")).json()["launch"]
    answer = await http.get(
        "/oauth/authorize", params=authorize_params(client_id, Pkce(), "launch patient/*.rs", launch=launch)
    )
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


async def test_launch_endpoint_needs_a_broad_patient_read(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    anonymous = await http.post("/oauth/launch", json={"patient": "p1"})
    assert anonymous.status_code == 401
    patient_app = make_dev_token(settings=settings, scope="patient/Patient.r", patient="p1")
    confined = await http.post(
        "/oauth/launch", json={"patient": "p1"}, headers={"Authorization": f"Bearer {patient_app}"}
    )
    assert confined.status_code == 403
    assert confined.json()["resourceType"] == "OperationOutcome"
