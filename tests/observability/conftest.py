"""Fixtures for the observability tests: a real wire database, captured JSON logs, a tiny app."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from fhir_server.observability import configure_logging
from fhir_server.settings import Settings

from .helpers import JsonLogs, free_port, wait_for_port

SECANTUSD = Path(sys.executable).parent / "secantusd-py"


@pytest.fixture(scope="session")
def wire_db_uri() -> Iterator[str]:
    """A SecantusDB server (run as a separate process, never imported) for this test session."""
    port = free_port()
    process = subprocess.Popen(
        [str(SECANTUSD), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"mongodb://127.0.0.1:{port}/?retryWrites=false&directConnection=true"
    finally:
        process.kill()  # in-memory storage: nothing to flush, and SIGTERM waits for idle clients
        process.wait(timeout=10)


@pytest.fixture(scope="session")
async def wire_client(wire_db_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(wire_db_uri)
    yield client
    await client.close()


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[JsonLogs]:
    """Configure JSON logging for one test and restore the root logger afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging(Settings(log_level="DEBUG"))
    yield JsonLogs(capsys)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
