"""With an external MongoDB (``FHIR_MONGODB_URI``), the server does not manage the database: when it
dies the server says 503 (readiness and requests), and when it is back the server reconnects by
itself. The "external" database here is a SecantusDB process this test starts and kills."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.crash_harness import Serve, Writers, missing, write_then
from fhir_server.store.embedded import EmbeddedDatabase, free_port, start_embedded


@pytest.fixture
def external(tmp_path: Path) -> Iterator[EmbeddedDatabase]:
    database = start_embedded(storage=tmp_path / "external-db", cache_size="256M")
    try:
        yield database
    finally:
        database.stop()


async def test_the_server_reconnects_to_an_external_database_that_came_back(
    tmp_path: Path, external: EmbeddedDatabase
) -> None:
    serve = Serve(
        data_dir=tmp_path / "var",
        port=free_port(),
        extra_env={"FHIR_MONGODB_URI": external.uri, "FHIR_DATABASE_TIMEOUT": "2"},
    )
    await asyncio.to_thread(serve.start)
    try:
        assert serve.record()["embedded"] is False
        writers = Writers(serve.fhir_base, serve.token(), concurrency=4)

        def crash() -> None:
            assert external.process is not None
            external.process.send_signal(signal.SIGKILL)
            external.process.wait()

        await write_then(writers, seconds=3, crash=crash)
        async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as client:
            assert (await client.get("/readyz")).status_code == 503
            # The operator (or the orchestrator) brings it back. Started from this thread, not a
            # worker thread: the database is told to stop when the thread that started it ends.
            external.start()
            await asyncio.to_thread(serve.wait_ready, 60)
            assert (await client.get("/healthz")).status_code == 200
        assert writers.acknowledged
        assert await missing(serve.fhir_base, serve.token(), writers.acknowledged) == []
    finally:
        await asyncio.to_thread(serve.stop)
