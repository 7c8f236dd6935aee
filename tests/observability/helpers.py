"""Shared pieces of the observability tests: a demo app with PHI-laden routes, log capture."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import time
from typing import Any, Final

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from fhir_server.context import Interaction
from fhir_server.observability import install_observability
from fhir_server.settings import Settings

# Made-up values standing in for PHI and credentials: none may ever reach a log line.
PHI_NAME: Final = "Zyxwvutsrqpo"
PHI_IDENTIFIER: Final = "MRN-86753091"
PHI_QUERY_VALUE: Final = "Qwertyuiopas"
BEARER_TOKEN: Final = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwYXRpZW50In0.c2lnbmF0dXJlLXNlY3JldA"
PHI_VALUES: Final = (PHI_NAME, PHI_IDENTIFIER, PHI_QUERY_VALUE, BEARER_TOKEN)

demo_logger = logging.getLogger("fhir_server.demo")


def demo_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"sentry_dsn": None, "otel_endpoint": None, **overrides}
    return Settings(**values)


def build_demo_app(settings: Settings | None = None) -> FastAPI:
    """A small app shaped like the FHIR API: routes set request.state the way the real ones do."""
    app = FastAPI()
    fhir = APIRouter(prefix="/fhir")

    @fhir.put("/{type}/{id}")
    async def update(type: str, id: str, request: Request) -> dict[str, Any]:
        body = await request.json()
        request.state.interaction = Interaction.UPDATE
        request.state.resource_type = type
        request.state.client_id = "clinic-app"
        # Careless logging: extras that are not whitelisted must be dropped.
        demo_logger.info("resource updated", extra={"patient_name": body.get("name"), "body": body})
        return {"request_id": request.state.request_id}

    @fhir.get("/{type}/{id}")
    async def read(type: str, id: str, request: Request) -> dict[str, Any]:
        request.state.interaction = Interaction.READ
        request.state.resource_type = type
        in_flight = request.app.state.metrics.registry.get_sample_value("fhir_http_requests_in_flight")
        return {"request_id": request.state.request_id, "in_flight": in_flight}

    @fhir.get("/{type}/{id}/$explode")
    async def explode(type: str, id: str, request: Request) -> dict[str, Any]:
        request.state.interaction = Interaction.OPERATION
        request.state.resource_type = type
        raise RuntimeError(f"duplicate key: identifier {PHI_IDENTIFIER} name {PHI_NAME}")

    app.include_router(fhir)
    install_observability(app, settings or demo_settings())
    return app


def client_for(app: FastAPI, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"secantusd-py exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("secantusd-py did not start listening")


class JsonLogs:
    """The JSON lines written to stderr so far."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self.raw = ""

    def read(self) -> list[dict[str, Any]]:
        self.raw += self._capsys.readouterr().err
        return [json.loads(line) for line in self.raw.splitlines() if line.startswith("{")]
