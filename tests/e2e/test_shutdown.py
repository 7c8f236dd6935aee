"""Stopping `fhir-server serve` stops the embedded database it started."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from benchmarks.server_process import running_server


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_server_and_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FHIR_MONGODB_URI", raising=False)  # this is about the embedded database
    with running_server() as server:
        databases = children_of(server.process.pid)
        assert databases, "serve started the embedded database as its child"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) is not None
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in databases) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in databases)
