"""/healthz and /readyz against real backends: a wire database, a closed port, a local blob store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from fhir_server.store.blob_local import LocalBlobStore

from .helpers import JsonLogs, build_demo_app, client_for, free_port


@pytest.fixture
async def unreachable_db() -> AsyncIterator[Any]:
    """A real client whose server does not exist: nothing listens on the port."""
    port = free_port()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=200&connectTimeoutMS=200"
    )
    yield client["fhir"]
    await client.close()


async def test_healthz_answers_while_the_process_runs() -> None:
    async with client_for(build_demo_app()) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_is_ready_with_a_database_and_a_blob_store(
    wire_client: AsyncMongoClient[dict[str, Any]], tmp_path: Path
) -> None:
    app = build_demo_app()
    app.state.db = wire_client["obs_health_ready"]
    app.state.blob_store = LocalBlobStore(root=tmp_path / "blobs")
    async with client_for(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": {"status": "ok"}, "blob_store": {"status": "ok"}},
    }


async def test_readyz_is_unavailable_when_the_database_does_not_answer(
    unreachable_db: Any, tmp_path: Path, json_logs: JsonLogs
) -> None:
    app = build_demo_app()
    app.state.db = unreachable_db
    app.state.blob_store = LocalBlobStore(root=tmp_path / "blobs")
    async with client_for(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": {"status": "fail", "error": "ServerSelectionTimeoutError"},
            "blob_store": {"status": "ok"},
        },
    }
    failures = [line for line in json_logs.read() if line["message"] == "readiness check failed"]
    assert [(line["check"], line["error_type"]) for line in failures] == [
        ("database", "ServerSelectionTimeoutError")
    ]


async def test_readyz_is_unavailable_when_the_blob_store_cannot_write(
    wire_client: AsyncMongoClient[dict[str, Any]], tmp_path: Path
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("blocks the blob directory")
    app = build_demo_app()
    app.state.db = wire_client["obs_health_blob_down"]
    app.state.blob_store = LocalBlobStore(root=not_a_directory / "blobs")
    async with client_for(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["blob_store"]["status"] == "fail"


async def test_readyz_is_unavailable_before_the_backends_are_opened() -> None:
    async with client_for(build_demo_app()) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": {"status": "fail", "error": "NotConfigured"},
        "blob_store": {"status": "fail", "error": "NotConfigured"},
    }


async def test_probe_routes_stay_out_of_the_openapi_document() -> None:
    async with client_for(build_demo_app()) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)
    assert "/fhir/{type}/{id}" in paths


async def test_successful_probes_are_logged_at_debug_only(json_logs: JsonLogs) -> None:
    async with client_for(build_demo_app()) as client:
        await client.get("/healthz")
        await client.get("/metrics")
    access = [line for line in json_logs.read() if line["logger"] == "fhir_server.access"]
    assert {line["level"] for line in access} == {"DEBUG"}
    assert [line["route"] for line in access] == ["/healthz", "/metrics"]
