"""Error tracking through Sentry, with PHI kept out of every event.

Enabled only when ``FHIR_SENTRY_DSN`` is set. The SDK is told not to collect personal data,
request bodies or local variables, and ``scrub_event`` removes what integrations add anyway:
the request is reduced to its method and two harmless headers (no URL, query string, cookies,
body or ``Authorization``), user data is dropped, exception messages are replaced (driver errors
quote the values that failed), and breadcrumbs and spans lose their URLs' query strings and data.
Stack traces (file, line, function) stay: they are what makes an event useful.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final

from fhir_server.observability.logs import LOG_FIELDS
from fhir_server.observability.request_id import current_request_id
from fhir_server.observability.scrub import REDACTED, scrub_credentials

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

    from fhir_server.settings import Settings

logger = logging.getLogger(__name__)

_KEPT_REQUEST_HEADERS: Final = frozenset({"content-type", "accept"})
_KEPT_BREADCRUMB_DATA: Final = frozenset({"method", "status_code", "reason", *LOG_FIELDS})


def configure_sentry(settings: Settings) -> bool:
    """Start the Sentry SDK when a DSN is configured; True when it was started."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk  # imported here: an app without Sentry never loads its integrations
    from sentry_sdk.integrations.pymongo import PyMongoIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=_release(),
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        # Its breadcrumbs and spans quote database commands, and its value stripping is shallow
        # (aggregation stages other than $match keep their values). DB latency is in /metrics.
        disabled_integrations=[PyMongoIntegration()],
    )
    logger.info("sentry error tracking enabled")
    return True


def tag_request(request_id: str) -> None:
    """Attach the request id to whatever Sentry reports for the current request."""
    import sentry_sdk

    # The isolation scope is per request under Sentry's ASGI integration: the tag cannot leak.
    sentry_sdk.get_isolation_scope().set_tag("request_id", request_id)


def _release() -> str | None:
    try:
        return f"fhir-server@{version('fhir-server')}"
    except PackageNotFoundError:
        return None


def scrub_event(event: Event, hint: Hint) -> Event:
    """Remove PHI-bearing parts of an error or transaction event (``before_send`` hook)."""
    if isinstance(request := event.get("request"), dict):
        event["request"] = _scrub_request(request)
    event.pop("user", None)
    for exception in _values(event.get("exception")):
        if exception.get("value"):
            exception["value"] = REDACTED
        _drop_frame_variables(exception.get("stacktrace"))
    for thread in _values(event.get("threads")):
        _drop_frame_variables(thread.get("stacktrace"))
    if isinstance(logentry := event.get("logentry"), dict):
        for key in ("message", "formatted"):
            if isinstance(logentry.get(key), str):
                logentry[key] = scrub_credentials(logentry[key])
        logentry.pop("params", None)
    if isinstance(extra := event.get("extra"), dict):
        event["extra"] = {key: value for key, value in extra.items() if key in LOG_FIELDS}
    for breadcrumb in _values(event.get("breadcrumbs")):
        scrub_breadcrumb(breadcrumb, {})
    for span in _dicts(event.get("spans")):
        _scrub_span(span)
    if isinstance(trace := (event.get("contexts") or {}).get("trace"), dict):
        trace.pop("data", None)
    if isinstance(meta := event.get("_meta"), dict):
        meta.pop("request", None)  # annotations about the request parts removed above
    if (request_id := current_request_id.get()) is not None:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def scrub_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
    """Keep a breadcrumb's category and a few safe fields; strip query strings from URLs."""
    if crumb.get("category") == "query":
        crumb["message"] = "database command"  # database breadcrumbs quote the command
    elif isinstance(message := crumb.get("message"), str):
        crumb["message"] = scrub_credentials(message)
    data = crumb.get("data")
    if isinstance(data, dict):
        kept = {key: value for key, value in data.items() if key in _KEPT_BREADCRUMB_DATA}
        if isinstance(url := data.get("url"), str):
            kept["url"] = _without_query(url)
        crumb["data"] = kept
    return crumb


def _scrub_request(request: dict[str, Any]) -> dict[str, Any]:
    headers = request.get("headers")
    kept_headers = (
        {name: value for name, value in headers.items() if name.lower() in _KEPT_REQUEST_HEADERS}
        if isinstance(headers, dict)
        else {}
    )
    scrubbed: dict[str, Any] = {"headers": kept_headers}
    if isinstance(method := request.get("method"), str):
        scrubbed["method"] = method
    return scrubbed


def _scrub_span(span: dict[str, Any]) -> None:
    span.pop("data", None)
    if str(span.get("op", "")).startswith("db"):
        span["description"] = "database command"  # the description would quote the command
    elif isinstance(description := span.get("description"), str):
        span["description"] = _without_query(description)


def _without_query(text: str) -> str:
    return text.split("?", 1)[0].split("#", 1)[0]


def _values(container: Any) -> list[dict[str, Any]]:
    return _dicts(container.get("values") if isinstance(container, dict) else None)


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _drop_frame_variables(stacktrace: Any) -> None:
    if isinstance(stacktrace, dict):
        for frame in stacktrace.get("frames") or []:
            if isinstance(frame, dict):
                frame.pop("vars", None)
