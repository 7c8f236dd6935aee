"""One ASGI middleware for request ids, the access log and request metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) so streamed responses stay streamed and the timing covers
the whole body. ``install_observability`` puts it outside Starlette's error middleware, so the
answer to an unhandled error carries the request id and is counted like any other.

The route layer tells it what the request was by setting ``request.state`` attributes:
``interaction``, ``resource_type`` and ``client_id`` (read with a default, since non-FHIR routes
set none of them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from time import perf_counter
from typing import Any, Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.observability.labels import (
    NO_VALUE,
    BoundedLabel,
    interaction_label,
    resource_type_label,
    route_template,
    status_class,
)
from fhir_server.observability.metrics import AppMetrics
from fhir_server.observability.request_id import REQUEST_ID_HEADER, accept_request_id, current_request_id
from fhir_server.observability.sentry import tag_request

access_log = logging.getLogger("fhir_server.access")

_KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_CLIENT_ID_LENGTH: Final = 128
_ROUTE_LABEL_LIMIT: Final = 512
_PRINTABLE_ROUTE: Final = re.compile(r"[ -~]{1,200}")


class ObservabilityMiddleware:
    """Gives each request an id (echoed as ``X-Request-ID``), logs it once, and counts it.

    ``quiet_routes`` (probes and scrapes) are logged at DEBUG unless they fail. With
    ``sentry_enabled`` the request id also becomes a tag of the request's Sentry events.
    """

    def __init__(
        self, app: ASGIApp, *, metrics: AppMetrics, quiet_routes: frozenset[str], sentry_enabled: bool = False
    ) -> None:
        self.app = app
        self._sentry_enabled = sentry_enabled
        self._metrics = metrics
        self._quiet_routes = quiet_routes
        self._interaction = interaction_label()
        self._resource_type = resource_type_label()
        self._route = _route_label()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        if self._sentry_enabled:
            tag_request(request_id)
        status = 500  # what the server will answer if the app raises before responding

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        self._metrics.in_flight.inc()
        started = perf_counter()
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._metrics.in_flight.dec()
            self._finish(scope, status=status, seconds=perf_counter() - started, error=error)
            current_request_id.reset(token)

    def _finish(self, scope: Scope, *, status: int, seconds: float, error: BaseException | None) -> None:
        state: Mapping[str, Any] = scope.get("state") or {}
        route = self._route(route_template(scope))
        interaction = self._interaction(state.get("interaction"))
        resource_type = self._resource_type(state.get("resource_type"))
        labels = (route, interaction, resource_type, status_class(status))
        self._metrics.requests.labels(*labels).inc()
        self._metrics.request_duration.labels(*labels).observe(seconds)

        method = scope.get("method", "")
        method = method if method in _KNOWN_METHODS else "OTHER"
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        if interaction != NO_VALUE:
            fields["interaction"] = interaction
        if resource_type != NO_VALUE:
            fields["resource_type"] = resource_type
        if (client_id := state.get("client_id")) is not None:
            fields["client_id"] = str(client_id)[:_MAX_CLIENT_ID_LENGTH]
        if error is not None:
            fields["error_type"] = type(error).__qualname__
        access_log.log(self._level(route, status), "%s %s %s", method, route, status, extra=fields)

    def _level(self, route: str, status: int) -> int:
        if status >= 500:
            return logging.WARNING
        if route in self._quiet_routes and status < 400:
            return logging.DEBUG
        return logging.INFO


def _route_label() -> BoundedLabel:
    # Route templates are few; the bound only matters for mounted apps, whose paths pass through.
    return BoundedLabel(shape=_PRINTABLE_ROUTE, limit=_ROUTE_LABEL_LIMIT)
