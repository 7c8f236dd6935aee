"""Optional OpenTelemetry: off by default, a clear warning when asked for but not installed."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from fhir_server.observability.tracing import (
    REDACTED_SPAN_ATTRIBUTES,
    configure_tracing,
    redact_url_attributes,
    traces_url,
)

from .helpers import JsonLogs, build_demo_app, client_for, demo_settings

SDK_INSTALLED = importlib.util.find_spec("opentelemetry.sdk") is not None


class RecordingSpan:
    """Holds attributes the way an SDK span does while it is recording."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        self._attributes = dict(attributes)

    @property
    def attributes(self) -> dict[str, Any]:
        return self._attributes

    def set_attribute(self, key: str, value: Any) -> None:
        self._attributes[key] = value


def test_tracing_is_off_without_an_endpoint() -> None:
    assert configure_tracing(demo_settings()) is False


@pytest.mark.skipif(SDK_INSTALLED, reason="the OpenTelemetry SDK is installed here")
async def test_missing_sdk_disables_tracing_with_a_warning_and_the_app_still_serves(
    json_logs: JsonLogs,
) -> None:
    settings = demo_settings(otel_endpoint="http://127.0.0.1:4318")
    assert configure_tracing(settings) is False
    app = build_demo_app(settings)
    async with client_for(app) as client:
        assert (await client.get("/fhir/Patient/1")).status_code == 200

    warnings = [line for line in json_logs.read() if line["logger"] == "fhir_server.observability.tracing"]
    assert warnings
    assert "opentelemetry-sdk" in warnings[0]["message"]
    assert warnings[0]["level"] == "WARNING"


def test_url_attributes_that_carry_ids_or_search_values_are_redacted() -> None:
    span = RecordingSpan(
        {
            "http.request.method": "GET",
            "url.path": "/fhir/Patient/MRN-123",
            "url.query": "name=Smith&birthdate=1970-01-01",
            "url.scheme": "https",
        }
    )
    redact_url_attributes(span)
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "[redacted]",
        "url.query": "[redacted]",
        "url.scheme": "https",
    }
    assert {"url.query", "url.path", "http.target", "http.url"} <= set(REDACTED_SPAN_ATTRIBUTES)


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://otlp.example/custom/v1/traces", "https://otlp.example/custom/v1/traces"),
    ],
)
def test_a_bare_collector_address_gets_the_traces_path(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url
