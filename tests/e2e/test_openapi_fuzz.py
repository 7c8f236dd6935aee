"""schemathesis against the server's own OpenAPI document, over real HTTP to a real server process:
generated requests for the main interactions never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from benchmarks.server_process import ServerProcess, running_server

# The main interactions on a few types: create, read, update, patch, delete, search, history,
# $validate, and the system level (batch/transaction, search, history).
PATHS = (
    r"^/fhir/(Patient|Observation|Appointment)(/\{id\}(/_history(/\{vid\})?)?|/_search|/_history|/\$validate)?$"
    r"|^/fhir/?$|^/fhir/_(search|history)$"
)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server() as process:
        yield process


@pytest.fixture(scope="module")
def token(server: ServerProcess) -> str:
    return server.dev_token("system/*.cruds")


@pytest.fixture(scope="module")
def api_schema(server: ServerProcess) -> Any:
    loaded = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    return loaded.include(path_regex=PATHS)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: Any, server: ServerProcess, token: str) -> None:
    response = case.call(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
