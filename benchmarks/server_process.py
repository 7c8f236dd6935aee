"""A real ``fhir-server serve`` process on a free port, for benchmarks and end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fhir_server.store.embedded import free_port


@dataclass
class ServerProcess:
    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def dev_token(self, scope: str, patient: str | None = None) -> str:
        """A token from ``fhir-server dev-token`` on the same configuration as the server."""
        command = [sys.executable, "-m", "fhir_server.cli", "dev-token", "--scope", scope]
        if patient:
            command += ["--patient", patient]
        if "*" in scope:
            command += ["--allow-wildcard"]
        output = subprocess.run(command, env=self.env, check=True, capture_output=True, text=True).stdout
        return output.strip().splitlines()[-1]


def serve_command(port: int) -> list[str]:
    """``fhir-server serve`` on the loopback interface, run by this interpreter."""
    return [sys.executable, "-m", "fhir_server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


@contextmanager
def running_server(
    extra_env: dict[str, str] | None = None, data_dir: Path | None = None
) -> Iterator[ServerProcess]:
    """Start the server (embedded database unless FHIR_MONGODB_URI is set) and stop it at the end."""
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        env = {
            **os.environ,
            "FHIR_DATA_DIR": str(data_dir or Path(scratch) / "var"),
            "FHIR_BASE_URL": f"http://127.0.0.1:{port}/fhir",
            "FHIR_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        log = open(Path(scratch) / "server.log", "wb")  # noqa: SIM115 - closed below
        command = serve_command(port)
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        log_path = Path(scratch) / "server.log"
        server = ServerProcess(
            base_url=f"http://127.0.0.1:{port}", env=env, process=process, log_path=log_path
        )
        try:
            _wait_ready(server, log_path)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def _wait_ready(server: ServerProcess, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready in 90 s:\n{log_path.read_text()[-3000:]}")
