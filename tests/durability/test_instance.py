"""One owner per data directory: the lock, the record, stale records of killed owners (real processes)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_server.store.instance import (
    RECORD_FILE,
    DataDirectoryBusy,
    InstanceRecord,
    claim,
    running_database,
    running_instance,
)

# A stand-in owner: claims the directory, publishes a record naming a "database" port, and waits.
OWNER = """
import os, sys, time
from pathlib import Path
from fhir_server.store.instance import InstanceRecord, claim
ownership = claim(Path(sys.argv[1]))
assert ownership is not None
uri = f"mongodb://127.0.0.1:{sys.argv[2]}/" if sys.argv[2] != "-" else None
ownership.publish(InstanceRecord(pid=os.getpid(), command="import", embedded=uri is not None,
                                 database_uri=uri, database_pid=int(sys.argv[3])))
print("owner ready", flush=True)
time.sleep(60)
"""


def _start_owner(data_dir: Path, port: int | None, database_pid: int = 0) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(data_dir), str(port) if port else "-", str(database_pid)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "owner ready"
    return process


def _kill(owner: subprocess.Popen[str]) -> None:
    owner.kill()
    owner.wait()
    if owner.stdout is not None:
        owner.stdout.close()


@pytest.fixture
def listening() -> Iterator[int]:
    """A port that accepts connections, standing in for a running database."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_live_owner_is_found_and_the_directory_cannot_be_claimed(tmp_path: Path, listening: int) -> None:
    owner = _start_owner(tmp_path, listening)
    try:
        assert claim(tmp_path) is None
        record = running_instance(tmp_path)
        assert record is not None and record.pid == owner.pid and record.command == "import"
        assert running_database(tmp_path, timeout=5).database_uri == f"mongodb://127.0.0.1:{listening}/"
    finally:
        _kill(owner)


def test_a_killed_owner_leaves_a_stale_record_that_the_next_owner_recognises(tmp_path: Path) -> None:
    owner = _start_owner(tmp_path, None)
    owner.send_signal(signal.SIGKILL)
    _kill(owner)
    assert (tmp_path / RECORD_FILE).exists()  # nothing removed it: the process was killed
    assert running_instance(tmp_path) is None  # ... but nobody holds the lock: no server runs
    ownership = claim(tmp_path)
    assert ownership is not None
    try:
        assert ownership.stale is not None and ownership.stale.pid == owner.pid
        assert not (tmp_path / RECORD_FILE).exists()
    finally:
        ownership.release()


def test_the_next_owner_waits_for_the_database_a_killed_owner_left_shutting_down(tmp_path: Path) -> None:
    # Stands in for a database on the directory's files (its command line names them).
    lingering = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)", str(tmp_path / "db")])
    owner = _start_owner(tmp_path, None, database_pid=lingering.pid)
    _kill(owner)
    ownership = claim(tmp_path)
    assert ownership is not None
    started = time.monotonic()
    try:
        ownership.wait_for_previous_database(timeout=30)
        lingering.wait(timeout=1)  # reaped only now: it was still running while we waited
    finally:
        ownership.release()
    assert time.monotonic() - started > 0.5


def test_a_reused_pid_of_the_previous_database_is_not_waited_for(tmp_path: Path) -> None:
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    owner = _start_owner(tmp_path, None, database_pid=unrelated.pid)
    _kill(owner)
    ownership = claim(tmp_path)
    assert ownership is not None
    started = time.monotonic()
    try:
        ownership.wait_for_previous_database(timeout=20)
    finally:
        ownership.release()
        unrelated.kill()
        unrelated.wait()
    assert time.monotonic() - started < 5


def test_an_owner_on_an_external_mongodb_is_named_instead_of_waited_for(tmp_path: Path) -> None:
    owner = _start_owner(tmp_path, None)
    try:
        with pytest.raises(DataDirectoryBusy, match="external MongoDB: give this command the same"):
            running_database(tmp_path, timeout=30)
    finally:
        _kill(owner)


def test_a_clean_release_removes_the_record_and_frees_the_directory(tmp_path: Path) -> None:
    ownership = claim(tmp_path)
    assert ownership is not None
    ownership.publish(InstanceRecord(pid=12345, command="serve", base_url="http://localhost:9/fhir"))
    assert json.loads((tmp_path / RECORD_FILE).read_text())["base_url"] == "http://localhost:9/fhir"
    ownership.release()
    assert not (tmp_path / RECORD_FILE).exists()
    again = claim(tmp_path)
    assert again is not None
    again.release()
