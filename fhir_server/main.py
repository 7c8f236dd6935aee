"""create_app(): the FastAPI application. Clients are opened and closed in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from fhir_server import __version__
from fhir_server.api import binary, bundles, metadata, rest, search
from fhir_server.api.errors import install_error_handlers
from fhir_server.api.openapi import fhir_openapi
from fhir_server.api.operations import build_operations_router
from fhir_server.assembly import build_services
from fhir_server.auth.authenticate import Authenticator
from fhir_server.auth.routes import build_auth_router, smart_security_component
from fhir_server.auth.state import build_auth_state
from fhir_server.capabilities import ServerCapabilities
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.conformance.validator import ProfileValidator
from fhir_server.documents.sweeper import BlobSweeper
from fhir_server.observability import configure_logging, db_command_listener, install_observability
from fhir_server.operations.catalog import discover_operations
from fhir_server.search.shaping import shape_resource
from fhir_server.settings import Settings, get_settings
from fhir_server.store.mongo import connect

logger = logging.getLogger(__name__)


def supported_profiles(validator: ProfileValidator) -> dict[str, list[str]]:
    """Profile URLs by the resource type they constrain, for the CapabilityStatement."""
    by_type: dict[str, list[str]] = {}
    for definition in validator.resources.all_by_type("StructureDefinition"):
        if definition.get("kind") == "resource" and definition.get("derivation") == "constraint":
            by_type.setdefault(definition["type"], []).append(definition["url"])
    return by_type


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application for these settings (the environment's when None)."""
    settings = settings or get_settings()
    configure_logging(settings)
    registry = ConformanceRegistry.create()  # per app: custom parameters stay with their server
    validator = ProfileValidator.from_directories()
    operations = discover_operations()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handle = await connect(settings, listeners=[db_command_listener(app)])
        auth = await build_auth_state(settings, handle.db, registry)
        services = await build_services(
            settings, handle.db, gate=auth.gate, registry=registry, validator=validator, publish=True
        )
        validator.warm_up()
        app.state.validator = validator
        app.state.settings = settings
        app.state.mongo_client = handle.client
        app.state.db = handle.db
        app.state.registry = registry
        app.state.repository = services.repository
        app.state.blob_store = services.blob_store
        app.state.gate = auth.gate
        app.state.auth = auth
        app.state.services = services
        app.state.authenticate = Authenticator(auth, settings)
        app.state.shape_resource = partial(shape_resource, registry=registry)
        sweeper = BlobSweeper(settings=settings, db=handle.db, blob_store=services.blob_store)
        sweeper.start()
        try:
            yield
        finally:
            await sweeper.stop()
            await services.blob_store.close()
            await auth.aclose()
            await handle.close()

    app = FastAPI(
        title="FHIR server for clinics",
        version=__version__,
        description="FHIR R4B (4.3.0) RESTful API secured with SMART on FHIR.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    capabilities = ServerCapabilities(
        base_url=settings.base_url.rstrip("/"),
        registry=registry,
        operations=operations,
        security=smart_security_component(settings),
        profiles_by_type=supported_profiles(validator),
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
    install_observability(app, settings)
    app.include_router(build_auth_router(settings))
    fhir = APIRouter(prefix="/fhir")
    fhir.include_router(metadata.router)
    fhir.include_router(build_operations_router(operations))
    fhir.include_router(binary.router)  # before the generic routes it specialises
    fhir.include_router(rest.router)
    fhir.include_router(search.router)
    app.include_router(fhir)
    # POST [base] is the path "" (and "/"): FastAPI needs a non-empty prefix to mount an empty path.
    app.include_router(bundles.router, prefix="/fhir")

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        return Response(status_code=307, headers={"Location": "/fhir/metadata"})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = fhir_openapi(app, capabilities)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
