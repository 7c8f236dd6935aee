"""create_app(): the FastAPI application. Clients are opened and closed in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from fhir_server import __version__
from fhir_server.api import bulk, fhir
from fhir_server.api.compression import CompressionMiddleware
from fhir_server.api.docs import install_docs
from fhir_server.api.errors import install_error_handlers
from fhir_server.api.openapi import fhir_openapi
from fhir_server.assembly import (
    account_authority,
    build_pipeline,
    build_services,
    close_services,
    server_capabilities,
)
from fhir_server.audit.install import audit_trail
from fhir_server.auth.authenticate import Authenticator
from fhir_server.auth.routes import build_auth_router
from fhir_server.auth.state import build_auth_state
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.conformance.validator import ProfileValidator
from fhir_server.documents.sweeper import BlobSweeper
from fhir_server.observability import configure_logging, db_command_listener, install_observability
from fhir_server.operations.catalog import discover_operations
from fhir_server.settings import Settings, get_settings
from fhir_server.store.mongo import connect
from fhir_server.subscriptions.clock import Clock
from fhir_server.subscriptions.owner import CreatorAuthority
from fhir_server.subscriptions.runtime import SubscriptionRuntime

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    subscription_clock: Clock | None = None,
    creator_authority: CreatorAuthority | None = None,
) -> FastAPI:
    """The application for these settings (the environment's when None).

    ``subscription_clock`` and ``creator_authority`` replace the subscription machinery's clock and
    its check of creators' access (tests)."""
    settings = settings or get_settings()
    configure_logging(settings)
    registry = ConformanceRegistry.create()  # per app: custom parameters stay with their server
    validator = ProfileValidator.from_directories()
    capabilities = server_capabilities(settings, registry, validator, discover_operations())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handle = await connect(settings, listeners=[db_command_listener(app)])
        auth = await build_auth_state(settings, handle.db, registry)
        services = await build_services(
            settings,
            handle.db,
            gate=auth.gate,
            registry=registry,
            validator=validator,
            publish=True,
            revocations=auth.cache,
        )
        validator.warm_up()
        app.state.settings = settings
        app.state.mongo_client = handle.client
        app.state.db = handle.db
        app.state.auth = auth
        app.state.services = services
        app.state.blob_store = services.blob_store  # for the readiness check
        app.state.pipeline = build_pipeline(services, capabilities)
        app.state.authenticate = Authenticator(auth, settings)
        app.state.audit = trail = audit_trail(services)  # auth reports security events to it
        if trail is not None:
            await trail.start()
        sweeper = BlobSweeper(settings=settings, db=handle.db, blob_store=services.blob_store)
        sweeper.start()
        await services.jobs.start()  # background work: fhir_server.jobs
        subscriptions = None
        if settings.subscriptions_enabled:
            subscriptions = SubscriptionRuntime(
                services,
                clock=subscription_clock,
                authority=creator_authority or account_authority(handle.db),
            )
            await subscriptions.start()
        app.state.subscriptions = subscriptions
        try:
            yield
        finally:
            if subscriptions is not None:
                await subscriptions.stop()
            await services.jobs.stop()
            await sweeper.stop()
            await close_services(services)
            await auth.aclose()
            await handle.close()

    app = FastAPI(
        title="FHIR server for clinics",
        version=__version__,
        description="FHIR R4B (4.3.0) RESTful API secured with SMART on FHIR.",
        lifespan=lifespan,
        docs_url=None,  # install_docs: Swagger UI and ReDoc with their assets served from here
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.capabilities = capabilities
    install_error_handlers(app)
    # Bearer tokens, not cookies: any origin may call the API (SMART apps run in browsers).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["ETag", "Location", "Content-Location", "Last-Modified", "X-Request-ID"],
        max_age=600,
    )
    app.add_middleware(CompressionMiddleware)
    install_observability(app, settings)
    install_docs(app)
    app.include_router(build_auth_router(settings))
    # Bulk export's status and file URLs come first: the FHIR adapter below takes every other path.
    app.include_router(bulk.router, prefix="/fhir")
    # The whole FHIR API is one adapter over the pipeline; "/fhir" itself is the system level.
    app.include_router(fhir.router, prefix="/fhir")
    app.add_api_route("/fhir", fhir.fhir_base, methods=["GET", "HEAD", "POST"], include_in_schema=False)

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        return Response(status_code=307, headers={"Location": "/fhir/metadata"})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = fhir_openapi(app, capabilities)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
