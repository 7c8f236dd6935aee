"""Optional OpenTelemetry tracing, exported over OTLP/HTTP when ``FHIR_OTEL_ENDPOINT`` is set.

The OpenTelemetry SDK and exporter are not dependencies of this project: install
``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http`` (or ``fastapi[opentelemetry]``)
into the server's environment to use tracing. Without them the server logs one warning and runs
untraced.

FastAPI creates the request spans itself once a tracer provider is set. Those spans carry the URL
path (ids a client may have chosen) and the query string (search values: PHI), so every span goes
through ``redact_url_attributes`` as it starts: the query is replaced and the path is left to the
``http.route`` template FastAPI adds when the route is known.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from fhir_server.observability.scrub import REDACTED

if TYPE_CHECKING:
    from fhir_server.settings import Settings

logger = logging.getLogger(__name__)

REDACTED_SPAN_ATTRIBUTES: Final = ("url.query", "url.path", "url.full", "http.target", "http.url")
_REQUIRED_MODULES: Final = (
    "opentelemetry.trace",
    "opentelemetry.sdk.resources",
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)
_state: dict[str, bool] = {"configured": False}


class AttributeSpan(Protocol):
    """The part of an SDK span the redaction needs."""

    @property
    def attributes(self) -> Any: ...

    def set_attribute(self, key: str, value: Any) -> None: ...


def redact_url_attributes(span: AttributeSpan) -> None:
    """Overwrite URL attributes that can carry ids or search values."""
    attributes = span.attributes or {}
    for key in REDACTED_SPAN_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, REDACTED)


def configure_tracing(settings: Settings) -> bool:
    """Install a global tracer provider exporting to ``settings.otel_endpoint``; True when tracing is on.

    Process-wide and done once: later calls (a second app in the same process) keep the first setup.
    """
    if not settings.otel_endpoint:
        return False
    if _state["configured"]:
        return True
    try:
        modules = {name: importlib.import_module(name) for name in _REQUIRED_MODULES}
    except ImportError as exc:
        logger.warning(
            "FHIR_OTEL_ENDPOINT is set but OpenTelemetry is not installed (%s); tracing is disabled. "
            "Install opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http to enable it.",
            exc.name,
        )
        return False
    _install_provider(modules, endpoint=settings.otel_endpoint, service_name=settings.otel_service_name)
    _state["configured"] = True
    logger.info("opentelemetry tracing enabled")
    return True


def _install_provider(modules: dict[str, Any], *, endpoint: str, service_name: str) -> None:
    trace = modules["opentelemetry.trace"]
    sdk_trace = modules["opentelemetry.sdk.trace"]
    export = modules["opentelemetry.sdk.trace.export"]
    resources = modules["opentelemetry.sdk.resources"]
    exporter_module = modules["opentelemetry.exporter.otlp.proto.http.trace_exporter"]

    class RedactingSpanProcessor(sdk_trace.SpanProcessor):  # type: ignore[misc, name-defined]
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            redact_url_attributes(span)

    provider = sdk_trace.TracerProvider(resource=resources.Resource.create({"service.name": service_name}))
    provider.add_span_processor(RedactingSpanProcessor())
    exporter = exporter_module.OTLPSpanExporter(endpoint=traces_url(endpoint))
    provider.add_span_processor(export.BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: a bare collector address gets the standard ``/v1/traces`` path."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path="/v1/traces"))
    return endpoint
