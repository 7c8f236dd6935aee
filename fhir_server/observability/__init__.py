"""Logs, metrics, health checks, error tracking and tracing, wired into an app in one call.

``create_app`` calls ``configure_logging(settings)`` then ``install_observability(app, settings)``
(anywhere before the app serves: the observability middleware always ends up outermost and sees
every answer, 401s and 500s included). The lifespan passes ``db_command_listener(app)`` to the
``AsyncMongoClient`` (``event_listeners=[...]``) to time database commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from fhir_server.observability.health import healthz, readyz
from fhir_server.observability.logs import configure_logging
from fhir_server.observability.metrics import (
    METRICS_CONTENT_TYPE,
    AppMetrics,
    DbCommandMetrics,
    create_app_metrics,
    prepare_multiprocess_dir,
)
from fhir_server.observability.middleware import ObservabilityMiddleware
from fhir_server.observability.sentry import configure_sentry
from fhir_server.observability.tracing import configure_tracing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fhir_server.settings import Settings

__all__ = [
    "HEALTH_PATH",
    "METRICS_PATH",
    "PUBLIC_PATHS",
    "READY_PATH",
    "DbCommandMetrics",
    "configure_logging",
    "db_command_listener",
    "install_observability",
    "prepare_multiprocess_dir",
]

HEALTH_PATH: Final = "/healthz"
READY_PATH: Final = "/readyz"
METRICS_PATH: Final = "/metrics"
# Paths outside the FHIR base that never require a token.
PUBLIC_PATHS: Final = frozenset({HEALTH_PATH, READY_PATH, METRICS_PATH})


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Add the request id / access log / metrics middleware, the health and metrics routes, and
    start Sentry and OpenTelemetry when configured. Call once per app, before it serves."""
    metrics = create_app_metrics()
    app.state.metrics = metrics
    app.add_api_route(HEALTH_PATH, healthz, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route(READY_PATH, readyz, methods=["GET", "HEAD"], include_in_schema=False)
    if settings.metrics_enabled:
        app.add_api_route(METRICS_PATH, _metrics_endpoint, methods=["GET"], include_in_schema=False)
    sentry_enabled = configure_sentry(settings)
    configure_tracing(settings)
    _wrap_middleware_stack(
        app,
        lambda inner: ObservabilityMiddleware(
            inner, metrics=metrics, quiet_routes=PUBLIC_PATHS, sentry_enabled=sentry_enabled
        ),
    )


def _wrap_middleware_stack(app: FastAPI, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Make ``wrap`` the outermost layer of the app, outside Starlette's ``ServerErrorMiddleware``.

    ``add_middleware`` can only add layers inside that one, where the 500 answer to an unhandled
    error is never seen. Starlette builds the stack on the first request through
    ``build_middleware_stack``; wrapping that method on this instance keeps every other layer
    (the app's own middleware, exception handlers) exactly as Starlette arranges them.
    """
    if app.middleware_stack is not None:
        raise RuntimeError("install_observability(app, settings) must run before the app serves requests")
    build_inner = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return wrap(build_inner())

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def db_command_listener(app: FastAPI) -> DbCommandMetrics:
    """A pymongo command listener recording database latency into ``app``'s metrics."""
    return DbCommandMetrics(_app_metrics(app).db_command_duration)


def _app_metrics(app: FastAPI) -> AppMetrics:
    metrics = getattr(app.state, "metrics", None)
    if not isinstance(metrics, AppMetrics):
        raise RuntimeError("install_observability(app, settings) must run before db_command_listener(app)")
    return metrics


async def _metrics_endpoint(request: Request) -> Response:
    # Off the event loop: in multiprocess mode this reads every worker's files.
    body = await run_in_threadpool(_app_metrics(request.app).exposition)
    return Response(body, media_type=METRICS_CONTENT_TYPE)
