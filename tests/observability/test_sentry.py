"""Sentry events carry the error and its stack, never request data, user data or exception text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fhir_server.observability.request_id import current_request_id
from fhir_server.observability.sentry import configure_sentry, scrub_breadcrumb, scrub_event

from .helpers import BEARER_TOKEN, PHI_IDENTIFIER, PHI_NAME, PHI_QUERY_VALUE, demo_settings

if TYPE_CHECKING:
    from sentry_sdk.types import Event

REPO_ROOT = Path(__file__).resolve().parents[2]
SENTRY_PROBE = Path(__file__).with_name("sentry_probe.py")


def sentry_style_event() -> dict[str, Any]:
    """An event shaped like the ones the Starlette and logging integrations produce."""
    return {
        "level": "error",
        "transaction": "/fhir/{type}/{id}",
        "request": {
            "method": "POST",
            "url": f"http://clinic/fhir/Patient/{PHI_IDENTIFIER}",
            "query_string": f"name={PHI_QUERY_VALUE}",
            "data": {"name": [{"family": PHI_NAME}]},
            "cookies": {"sid": BEARER_TOKEN},
            "headers": {
                "Authorization": f"Bearer {BEARER_TOKEN}",
                "Content-Type": "application/fhir+json",
                "X-Forwarded-For": "10.1.2.3",
            },
            "env": {"REMOTE_ADDR": "10.1.2.3"},
        },
        "user": {"id": "Patient/1", "ip_address": "10.1.2.3"},
        "exception": {
            "values": [
                {
                    "type": "DuplicateKeyError",
                    "value": f"E11000 dup key: {{ identifier: {PHI_IDENTIFIER!r} }}",
                    "stacktrace": {
                        "frames": [{"filename": "repository.py", "lineno": 10, "vars": {"name": PHI_NAME}}]
                    },
                }
            ]
        },
        "logentry": {
            "message": "store failed for %s",
            "params": [PHI_NAME],
            "formatted": f"token {BEARER_TOKEN}",
        },
        "extra": {"route": "/fhir/{type}/{id}", "patient": PHI_NAME},
        "breadcrumbs": {
            "values": [
                {
                    "category": "httplib",
                    "data": {"url": f"https://idp/jwks?name={PHI_QUERY_VALUE}", "method": "GET"},
                },
                {
                    "category": "log",
                    "message": f"Authorization: Bearer {BEARER_TOKEN}",
                    "data": {"body": PHI_NAME},
                },
                {"category": "query", "message": f'{{"find": "resources.Patient", "filter": "{PHI_NAME}"}}'},
            ]
        },
        "spans": [
            {"op": "http.client", "description": f"GET https://idp/x?q={PHI_QUERY_VALUE}", "data": {"q": 1}},
            {"op": "db", "description": f'{{"aggregate": "x", "pipeline": [{{"$facet": "{PHI_NAME}"}}]}}'},
        ],
        "contexts": {"trace": {"trace_id": "abc", "data": {"url.query": PHI_QUERY_VALUE}}},
    }


def test_scrub_event_removes_every_phi_bearing_part() -> None:
    token = current_request_id.set("req-77")
    try:
        event: dict[str, Any] = dict(scrub_event(cast("Event", sentry_style_event()), {}))
    finally:
        current_request_id.reset(token)

    text = json.dumps(event)
    for secret in (PHI_NAME, PHI_IDENTIFIER, PHI_QUERY_VALUE, BEARER_TOKEN, "10.1.2.3"):
        assert secret not in text
    assert event["request"] == {"method": "POST", "headers": {"Content-Type": "application/fhir+json"}}
    assert "user" not in event
    exception = event["exception"]["values"][0]
    assert exception["type"] == "DuplicateKeyError"
    assert exception["stacktrace"]["frames"] == [{"filename": "repository.py", "lineno": 10}]
    assert event["extra"] == {"route": "/fhir/{type}/{id}"}
    assert event["logentry"]["message"] == "store failed for %s"
    assert event["breadcrumbs"]["values"][0]["data"] == {"url": "https://idp/jwks", "method": "GET"}
    assert event["breadcrumbs"]["values"][2]["message"] == "database command"
    assert event["spans"] == [
        {"op": "http.client", "description": "GET https://idp/x"},
        {"op": "db", "description": "database command"},
    ]
    assert event["tags"] == {"request_id": "req-77"}
    assert event["transaction"] == "/fhir/{type}/{id}"


def test_scrub_breadcrumb_keeps_whitelisted_log_fields() -> None:
    crumb = scrub_breadcrumb(
        {
            "category": "fhir_server.access",
            "message": "GET /fhir/{type} 200",
            "data": {"status": 200, "name": "x"},
        },
        {},
    )
    assert crumb == {
        "category": "fhir_server.access",
        "message": "GET /fhir/{type} 200",
        "data": {"status": 200},
    }


def test_sentry_stays_off_without_a_dsn() -> None:
    assert configure_sentry(demo_settings()) is False


def test_a_real_sentry_event_reaches_the_receiver_without_phi() -> None:
    completed = subprocess.run(
        [sys.executable, str(SENTRY_PROBE)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["status"] == 500
    envelopes = "\n".join(result["envelopes"])
    assert "RuntimeError" in envelopes  # the error did arrive, with its type ...
    assert "explode" in envelopes  # ... and its stack (the endpoint's function name)
    assert result["request_id"] in envelopes
    for secret in (PHI_NAME, PHI_IDENTIFIER, PHI_QUERY_VALUE, BEARER_TOKEN, "Authorization", "sid="):
        assert secret not in envelopes
        assert secret not in completed.stderr
    assert "authorization" not in envelopes.lower()
