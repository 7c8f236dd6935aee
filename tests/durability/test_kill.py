"""``kill -9`` of the database, of the server, of both, while writes are in flight: every write the
server acknowledged reads back afterwards, and a database outage is noticed, answered 503 fast
and repaired without a person. One real ``serve`` process per module (embedded database, auth on)
on a data directory that outlives it; ``benchmarks/durability_bench.py`` runs 20 such rounds.
"""

from __future__ import annotations

import asyncio
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.crash_harness import Serve, Writers, missing, write_then
from fhir_server.store.embedded import free_port
from fhir_server.store.instance import pid_alive

DATABASE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    server = Serve(
        data_dir=tmp_path_factory.mktemp("kill") / "var",
        port=free_port(),
        extra_env={"FHIR_DATABASE_TIMEOUT": str(DATABASE_TIMEOUT)},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid), f"process {pid} still alive"


async def _log_shows(serve: Serve, line: str, seconds: float = 60) -> str:
    """The server's whole log (the watcher's retries can push a line out of a tail) once it holds
    ``line``, or when ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    log = serve.log_tail(10_000_000)
    while line not in log and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        log = serve.log_tail(10_000_000)
    return log


async def test_a_dead_database_is_answered_503_fast_and_restarted_by_the_server(serve: Serve) -> None:
    token = serve.token()
    writers = Writers(serve.fhir_base, token, concurrency=4)
    # Holding WiredTiger's lock on the database files keeps the supervisor's restarts failing, so
    # the outage lasts until we let go: long enough to look at, and no shorter.
    blocker = await asyncio.to_thread(open, serve.data_dir / "db" / "WiredTiger.lock", "r+b")

    def crash() -> None:
        deadline = time.monotonic() + 60
        while True:
            killed = serve.kill_database()
            _wait_gone(killed)
            try:
                fcntl.lockf(blocker, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                # The supervisor restarted the database before we took its files: kill that one too.
                assert time.monotonic() < deadline, "never got the database's lock"
                while serve.database_pid() == killed and time.monotonic() < deadline:
                    time.sleep(0.02)

    try:
        await write_then(writers, seconds=1.5, crash=crash)
        async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as client:
            started = time.monotonic()
            ready, read = await asyncio.gather(
                client.get("/readyz"),
                client.get("/fhir/Patient/anything", headers={"Authorization": f"Bearer {token}"}),
            )
            waited = time.monotonic() - started
            alive = await client.get("/healthz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["status"] == "fail"
        assert read.status_code == 503
        outcome = read.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "no-store"
        assert read.headers["Retry-After"] == "5"
        assert waited < DATABASE_TIMEOUT * 2 + 2  # not pymongo's 30 s, not a hang
        assert alive.status_code == 200  # liveness is not readiness: nothing to restart here
        # Keep the files until the supervisor has tried (and failed) to restart on them: its retries
        # back off, so after a restart we killed again the next attempt may be seconds away.
        await _log_shows(serve, "restarting the embedded database failed")
    finally:
        blocker.close()
    await asyncio.to_thread(serve.wait_ready, 90)  # restarted by serve itself, on the same files
    assert serve.process is not None and serve.process.poll() is None
    assert writers.acknowledged, "some writes were acknowledged before the kill"
    assert await missing(serve.fhir_base, serve.token(), writers.acknowledged) == []
    async with httpx.AsyncClient(base_url=serve.fhir_base, timeout=30) as client:
        created = await client.post(
            "/Patient",
            json={"resourceType": "Patient", "gender": "other"},
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        )
    assert created.status_code == 201
    # The recovery line comes from the driver's next heartbeat, which may follow the first answer.
    log = await _log_shows(serve, "the database is reachable again")
    assert "restarting the embedded database failed" in log  # while we held its files
    assert "the database is reachable again" in log


async def test_acknowledged_writes_survive_a_kill_of_server_and_database_together(serve: Serve) -> None:
    writers = Writers(serve.fhir_base, serve.token())
    await write_then(writers, seconds=2, crash=serve.kill_both)
    await asyncio.to_thread(serve.start)
    assert writers.acknowledged
    assert await missing(serve.fhir_base, serve.token(), writers.acknowledged) == []


async def test_acknowledged_writes_survive_a_kill_of_the_server_and_its_database_follows(
    serve: Serve,
) -> None:
    writers = Writers(serve.fhir_base, serve.token())
    database = serve.database_pid()
    await write_then(writers, seconds=2, crash=serve.kill_server)
    await asyncio.to_thread(_wait_gone, database)  # told to stop with its parent: none outlives it
    await asyncio.to_thread(serve.start)
    assert writers.acknowledged
    assert await missing(serve.fhir_base, serve.token(), writers.acknowledged) == []


def test_a_clean_stop_removes_the_record_and_stops_the_database(serve: Serve, tmp_path: Path) -> None:
    database = serve.database_pid()
    assert serve.stop() == 0 or serve.process is not None
    _wait_gone(database)
    assert not (serve.data_dir / "instance.json").exists()
    serve.start()
    assert serve.database_pid() != database
