"""JSON access and application logs: the fields are there, PHI and credentials are not."""

from __future__ import annotations

import logging

from fhir_server.observability import configure_logging
from fhir_server.observability.logs import JsonStderrHandler
from fhir_server.settings import Settings

from .helpers import (
    BEARER_TOKEN,
    PHI_IDENTIFIER,
    PHI_NAME,
    PHI_QUERY_VALUE,
    PHI_VALUES,
    JsonLogs,
    build_demo_app,
    client_for,
    demo_settings,
)

PHI_BODY = {
    "resourceType": "Patient",
    "id": "pat-1",
    "name": [{"family": PHI_NAME}],
    "identifier": [{"system": "urn:mrn", "value": PHI_IDENTIFIER}],
}


async def test_access_log_line_has_the_request_fields(json_logs: JsonLogs) -> None:
    app = build_demo_app()
    async with client_for(app) as client:
        response = await client.put("/fhir/Patient/pat-1", json=PHI_BODY)
    assert response.status_code == 200

    access = [line for line in json_logs.read() if line["logger"] == "fhir_server.access"]
    assert len(access) == 1
    line = access[0]
    assert line["level"] == "INFO"
    assert line["time"].endswith("+00:00")
    assert line["message"] == "PUT /fhir/{type}/{id} 200"
    assert line["method"] == "PUT"
    assert line["route"] == "/fhir/{type}/{id}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["interaction"] == "update"
    assert line["resource_type"] == "Patient"
    assert line["client_id"] == "clinic-app"
    assert line["request_id"] == response.headers["x-request-id"]


async def test_application_log_lines_carry_the_request_id(json_logs: JsonLogs) -> None:
    app = build_demo_app()
    async with client_for(app) as client:
        response = await client.put("/fhir/Patient/pat-1", json=PHI_BODY)

    demo = [line for line in json_logs.read() if line["logger"] == "fhir_server.demo"]
    assert [line["message"] for line in demo] == ["resource updated"]
    assert demo[0]["request_id"] == response.headers["x-request-id"]
    # Extras outside the whitelist (patient_name, body) are not written.
    assert "patient_name" not in demo[0]
    assert "body" not in demo[0]


async def test_phi_in_body_query_path_and_token_never_reaches_the_log(json_logs: JsonLogs) -> None:
    app = build_demo_app()
    headers = {"Authorization": f"Bearer {BEARER_TOKEN}", "Cookie": f"session={BEARER_TOKEN}"}
    async with client_for(app, raise_app_exceptions=False) as client:
        await client.put(
            f"/fhir/Patient/{PHI_IDENTIFIER}?name={PHI_QUERY_VALUE}", json=PHI_BODY, headers=headers
        )
        await client.get(f"/fhir/Patient/{PHI_IDENTIFIER}", params={"name": PHI_QUERY_VALUE}, headers=headers)
        failed = await client.get(f"/fhir/Patient/{PHI_IDENTIFIER}/$explode", headers=headers)
        await client.get(f"/no/such/{PHI_NAME}", params={"identifier": PHI_IDENTIFIER})
    assert failed.status_code == 500

    lines = json_logs.read()
    assert len([line for line in lines if line["logger"] == "fhir_server.access"]) == 4
    for value in PHI_VALUES:
        assert value not in json_logs.raw


async def test_a_failed_request_is_logged_with_its_error_type_only(json_logs: JsonLogs) -> None:
    app = build_demo_app()
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/fhir/Patient/pat-1/$explode")
    assert response.status_code == 500

    access = [line for line in json_logs.read() if line["logger"] == "fhir_server.access"]
    assert access[0]["level"] == "WARNING"
    assert access[0]["status"] == 500
    assert access[0]["error_type"] == "RuntimeError"
    assert access[0]["route"] == "/fhir/{type}/{id}/$explode"
    assert access[0]["interaction"] == "operation"
    assert PHI_IDENTIFIER not in json_logs.raw


def test_exceptions_are_logged_as_type_and_frames_without_their_message(json_logs: JsonLogs) -> None:
    logger = logging.getLogger("fhir_server.test")
    try:
        raise ValueError(f"E11000 duplicate key error dup key: {{ identifier: {PHI_IDENTIFIER!r} }}")
    except ValueError:
        logger.exception("could not store the resource")

    [line] = [line for line in json_logs.read() if line["logger"] == "fhir_server.test"]
    assert line["level"] == "ERROR"
    assert line["message"] == "could not store the resource"
    assert line["exc_type"] == "ValueError"
    assert any("test_exceptions_are_logged" in frame for frame in line["exc_frames"])
    assert PHI_IDENTIFIER not in json_logs.raw


def test_credentials_in_messages_are_scrubbed(json_logs: JsonLogs) -> None:
    logger = logging.getLogger("fhir_server.test")
    logger.warning("rejected header %s", f"Authorization: Bearer {BEARER_TOKEN}")
    logger.warning("token form body: grant_type=refresh_token&refresh_token=r3fr3sh-s3cr3t&client_id=app")
    logger.warning('upstream said {"access_token": "opaque-t0ken-value", "expires_in": 300}')
    logger.warning("pasted jwt %s in a message", BEARER_TOKEN)

    messages = [line["message"] for line in json_logs.read() if line["logger"] == "fhir_server.test"]
    assert len(messages) == 4
    for secret in (BEARER_TOKEN, "r3fr3sh-s3cr3t", "opaque-t0ken-value"):
        assert secret not in json_logs.raw
    assert "[redacted]" in messages[0]
    assert "client_id=app" in messages[1]  # the rest of the line survives
    assert messages[3] == "pasted jwt [redacted] in a message"


def test_configure_logging_is_idempotent(json_logs: JsonLogs) -> None:
    configure_logging(Settings(log_level="INFO"))
    configure_logging(Settings(log_level="INFO"))
    root = logging.getLogger()
    assert len([h for h in root.handlers if isinstance(h, JsonStderrHandler)]) == 1
    assert root.level == logging.INFO

    logging.getLogger("fhir_server.test").info("once")
    assert [line["message"] for line in json_logs.read() if line["logger"] == "fhir_server.test"] == ["once"]


def test_verbose_libraries_stay_quiet_even_at_debug(json_logs: JsonLogs) -> None:
    # At DEBUG pymongo would log whole commands (documents included) and httpx full URLs.
    logging.getLogger("pymongo.command").debug("{'insert': 'resources.Patient', 'documents': [...]}")
    logging.getLogger("httpx").info("HTTP Request: GET https://idp/jwks?x=1")
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /fhir/Patient?name=x HTTP/1.1" 200')
    logging.getLogger("fhir_server.test").debug("ours still shows")

    lines = json_logs.read()
    assert [line["logger"] for line in lines] == ["fhir_server.test"]


def test_unknown_level_falls_back_to_info_with_a_warning(json_logs: JsonLogs) -> None:
    configure_logging(demo_settings(log_level="chatty"))
    assert logging.getLogger().level == logging.INFO
    warnings = [line for line in json_logs.read() if line["level"] == "WARNING"]
    assert warnings[0]["message"] == "unknown log level 'chatty', using INFO"
