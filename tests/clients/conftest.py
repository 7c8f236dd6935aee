"""Popular FHIR clients, unmodified, against one real ``fhir-server serve`` process (auth on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.server_process import ServerProcess, running_server


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    with running_server() as process:
        yield process


@pytest.fixture(scope="session")
def token(server: ServerProcess) -> str:
    """A backend-service token that may do everything (the clients are trusted scripts here)."""
    return server.dev_token("system/*.cruds")


@pytest.fixture(scope="session")
def fhir_base(server: ServerProcess) -> str:
    return f"{server.base_url}/fhir"
