"""Real ``fhir-server serve`` processes on a data directory that outlives them, killed with real
signals, and writers that remember exactly which writes the server acknowledged.

Used by ``benchmarks/durability_bench.py`` (20 kill rounds) and the tests in ``tests/durability``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from benchmarks.server_process import serve_command
from fhir_server.auth.devtoken import make_dev_token
from fhir_server.settings import Settings

READY_TIMEOUT_SECONDS: Final = 120.0
MRN_SYSTEM: Final = "http://clinic.example.org/mrn"


@dataclass
class Serve:
    """One ``serve`` process on ``data_dir``; ``restart`` starts another on the same directory and port."""

    data_dir: Path
    port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "serve.log"

    @property
    def env(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"FHIR_MONGODB_URI", "FHIR_BASE_URL"}  # the embedded database, a derived base
        }
        env.update(
            {
                "FHIR_DATA_DIR": str(self.data_dir),
                "FHIR_LOG_LEVEL": "WARNING",
                "FHIR_EMBEDDED_CACHE_SIZE": "256M",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, *, wait: bool = True) -> None:
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                serve_command(self.port),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Seconds until ``/readyz`` answered 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"serve exited ({self.process.returncode}):\n{self.log_tail()}")
            if self.readiness() == 200:
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"serve not ready in {timeout:.0f} s:\n{self.log_tail()}")

    def readiness(self) -> int | None:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=5).status_code
        except httpx.HTTPError:
            return None

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.data_dir / "instance.json").read_text())
        return data

    def database_pid(self) -> int:
        return int(self.record()["database_pid"])

    def kill_server(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def kill_database(self) -> int:
        """SIGKILL the recorded database process (one the supervisor restarted may have died by
        itself already); its pid."""
        pid = self.database_pid()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return pid

    def kill_both(self) -> None:
        assert self.process is not None
        database = self.database_pid()
        os.kill(database, signal.SIGKILL)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 60) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def token(self, scope: str = "system/Patient.cruds") -> str:
        """A token signed with the server's key (generated under the data directory at start-up)."""
        settings = Settings(
            data_dir=self.data_dir,
            base_url=f"http://localhost:{self.port}/fhir",
            host="127.0.0.1",
            port=self.port,
        )
        return make_dev_token(settings=settings, scope=scope)


def patient(marker: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": marker}],
        "name": [{"family": "Durable", "given": [marker[:8]]}],
        "birthDate": "1970-01-01",
    }


@dataclass
class Writers:
    """Concurrent creators of Patients; ``acknowledged`` holds the id of every 201 received."""

    fhir_base: str
    token: str
    concurrency: int = 8
    acknowledged: list[str] = field(default_factory=list)
    failures: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/fhir+json"}
        limits = httpx.Limits(max_connections=self.concurrency * 2)
        async with httpx.AsyncClient(
            base_url=self.fhir_base, headers=headers, limits=limits, timeout=30
        ) as client:
            await asyncio.gather(*(self._write(client, stop) for _ in range(self.concurrency)))

    async def _write(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                response = await client.post("/Patient", json=patient(uuid.uuid4().hex))
            except httpx.HTTPError:
                self.failures += 1  # cut off: its outcome is unknown, and it was never acknowledged
                await asyncio.sleep(0.05)
                continue
            if response.status_code == 201:
                self.acknowledged.append(response.json()["id"])
            else:
                self.failures += 1
                await asyncio.sleep(0.05)


FIRST_ACK_TIMEOUT_SECONDS = 60


async def write_then(writers: Writers, *, seconds: float, crash: Any, after_crash: float = 0.3) -> float:
    """Write for ``seconds``, call ``crash()`` while writes are in flight, stop writing soon after;
    the ``time.monotonic()`` of the crash."""
    stop = asyncio.Event()
    task = asyncio.create_task(writers.run(stop))
    await asyncio.sleep(seconds)
    # A loaded machine may not have answered a first write yet: a crash then proves nothing.
    deadline = time.monotonic() + FIRST_ACK_TIMEOUT_SECONDS
    while not writers.acknowledged and time.monotonic() < deadline:  # noqa: ASYNC110 (a list, not an event)
        await asyncio.sleep(0.05)
    await asyncio.to_thread(crash)
    crashed_at = time.monotonic()
    await asyncio.sleep(after_crash)
    stop.set()
    await task
    return crashed_at


async def missing(fhir_base: str, token: str, ids: list[str], concurrency: int = 8) -> list[str]:
    """The ids among ``ids`` that do not read back."""
    headers = {"Authorization": f"Bearer {token}"}
    lost: list[str] = []
    queue = list(ids)
    async with httpx.AsyncClient(base_url=fhir_base, headers=headers, timeout=30) as client:

        async def reader() -> None:
            while queue:
                resource_id = queue.pop()
                response = await client.get(f"/Patient/{resource_id}")
                if response.status_code != 200:
                    lost.append(resource_id)

        await asyncio.gather(*(reader() for _ in range(concurrency)))
    return lost
