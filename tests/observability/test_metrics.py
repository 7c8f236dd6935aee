"""Prometheus metrics: labelled request counters and latencies, in-flight gauge, DB command timings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from fhir_server.observability import db_command_listener
from fhir_server.observability.labels import (
    OTHER,
    BoundedLabel,
    interaction_label,
    resource_type_label,
    route_template,
)
from fhir_server.observability.metrics import MULTIPROC_ENV

from .helpers import build_demo_app, client_for, demo_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels`` (None when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return None


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_counted_by_route_interaction_type_and_status_class() -> None:
    async with client_for(build_demo_app(), raise_app_exceptions=False) as client:
        await client.get("/fhir/Patient/1")
        await client.get("/fhir/Patient/2")
        await client.get("/fhir/Observation/3")
        await client.get("/fhir/Patient/1/$explode")
        text = await scrape(client)

    read_patient = {"route": "/fhir/{type}/{id}", "interaction": "read", "resource_type": "Patient"}
    assert sample(text, "fhir_http_requests_total", status_class="2xx", **read_patient) == 2
    assert sample(text, "fhir_http_request_duration_seconds_count", status_class="2xx", **read_patient) == 2
    assert sample(text, "fhir_http_requests_total", resource_type="Observation", status_class="2xx") == 1
    assert sample(text, "fhir_http_requests_total", interaction="operation", status_class="5xx") == 1
    # No raw ids in any label.
    assert 'id="1"' not in text
    assert "/fhir/Patient/1" not in text


async def test_in_flight_gauge_counts_the_running_request() -> None:
    async with client_for(build_demo_app()) as client:
        during = (await client.get("/fhir/Patient/1")).json()["in_flight"]
        text = await scrape(client)
    assert during == 1
    # The earlier request has left; the only one in flight now is the scrape itself.
    assert sample(text, "fhir_http_requests_in_flight") == 1


async def test_each_app_has_its_own_registry() -> None:
    first, second = build_demo_app(), build_demo_app()
    async with client_for(first) as one, client_for(second) as two:
        await one.get("/fhir/Patient/1")
        await one.get("/fhir/Patient/1")
        await two.get("/fhir/Patient/1")
        first_text, second_text = await scrape(one), await scrape(two)
    assert sample(first_text, "fhir_http_requests_total", interaction="read") == 2
    assert sample(second_text, "fhir_http_requests_total", interaction="read") == 1


async def test_metrics_route_can_be_switched_off() -> None:
    async with client_for(build_demo_app(demo_settings(metrics_enabled=False))) as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_database_commands_are_timed_by_name_and_outcome(wire_db_uri: str) -> None:
    app = build_demo_app()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        wire_db_uri, event_listeners=[db_command_listener(app)]
    )
    try:
        collection = client["obs_metrics_db_commands"]["things"]
        await collection.insert_one({"_id": "a", "n": 1})
        assert await collection.find_one({"_id": "a"}) is not None
        with pytest.raises(OperationFailure):
            await client["obs_metrics_db_commands"].command("noSuchCommandAnywhere")
    finally:
        await client.close()

    async with client_for(app) as http:
        text = await scrape(http)
    assert sample(text, "fhir_db_command_duration_seconds_count", command="insert", outcome="succeeded") == 1
    assert sample(text, "fhir_db_command_duration_seconds_count", command="find", outcome="succeeded") == 1
    assert sample(text, "fhir_db_command_duration_seconds_count", outcome="failed") == 1


def test_db_command_listener_needs_installed_observability() -> None:
    from fastapi import FastAPI

    with pytest.raises(RuntimeError, match="install_observability"):
        db_command_listener(FastAPI())


def test_bounded_label_stops_new_values_at_its_limit() -> None:
    label = BoundedLabel(shape=re.compile(r"[A-Z][a-z]+"), limit=2)
    assert [label("Patient"), label("Observation"), label("Encounter"), label("Patient")] == [
        "Patient",
        "Observation",
        OTHER,
        "Patient",
    ]
    assert resource_type_label()("not a type; drop table") == OTHER
    interaction = interaction_label()
    assert [interaction(v) for v in ("search-type", "$everything", "$validate-code", "$$", "x y")] == [
        "search-type",
        "$everything",
        "$validate-code",
        OTHER,
        OTHER,
    ]


@pytest.mark.parametrize(
    ("scope", "template"),
    [
        (
            {"path": "/fhir/Patient/1", "route": object(), "path_params": {"type": "Patient", "id": "1"}},
            "/fhir/{type}/{id}",
        ),
        (
            {
                "path": "/fhir/Patient/7/_history/7",
                "route": object(),
                "path_params": {"type": "Patient", "id": "7", "vid": "7"},
            },
            "/fhir/{type}/{id}/_history/{vid}",
        ),
        (
            {
                "path": "/fhir/Patient/$match",
                "endpoint": object(),
                "path_params": {"type": "Patient", "op": "match"},
            },
            "/fhir/{type}/${op}",
        ),
        ({"path": "/v1/1", "route": object(), "path_params": {"id": "1"}}, "/v1/{id}"),
        ({"path": "/files/a/b.txt", "route": object(), "path_params": {"rest": "a/b.txt"}}, "/files/{rest}"),
        ({"path": "/metrics", "endpoint": object()}, "/metrics"),
        ({"path": "/fhir/Patient/MRN-123"}, "unmatched"),
    ],
)
def test_route_template_hides_path_parameter_values(scope: dict[str, Any], template: str) -> None:
    assert route_template(scope) == template


async def test_nested_routers_report_the_full_template() -> None:
    from fastapi import APIRouter, FastAPI

    from fhir_server.observability import install_observability

    app = FastAPI()
    outer, inner = APIRouter(prefix="/fhir"), APIRouter(prefix="/Patient")

    @inner.get("/{id}/$everything")
    async def everything(id: str) -> dict[str, str]:
        return {}

    outer.include_router(inner)
    app.include_router(outer)
    install_observability(app, demo_settings())
    async with client_for(app) as client:
        await client.get("/fhir/Patient/pat-9/$everything")
        text = await scrape(client)
    assert sample(text, "fhir_http_requests_total", route="/fhir/Patient/{id}/$everything") == 1


MULTIPROCESS_WORKER = textwrap.dedent(
    """
    import asyncio, httpx
    from fastapi import FastAPI
    from fhir_server.observability import install_observability
    from fhir_server.settings import Settings

    app = FastAPI()
    install_observability(app, Settings(sentry_dsn=None, otel_endpoint=None))

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            await client.get("/healthz")
            await client.get("/healthz")
            print((await client.get("/metrics")).text)

    asyncio.run(main())
    """
)


def test_multiprocess_mode_sums_the_workers(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_WORKER],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for _ in range(2)
    ]
    healthz = {"route": "/healthz", "status_class": "2xx"}
    assert sample(outputs[0], "fhir_http_requests_total", **healthz) == 2
    # The second "worker" sees the first one's requests too: one scrape covers every worker.
    assert sample(outputs[1], "fhir_http_requests_total", **healthz) == 4
