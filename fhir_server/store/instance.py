"""Who runs on a data directory: one writer per embedded database, found by every other command.

The process that runs the embedded database on ``FHIR_DATA_DIR`` (``serve``, or a command that
found no server) holds an exclusive lock on ``<data_dir>/instance.lock`` for its whole life and
describes itself in ``<data_dir>/instance.json``: its pid and command, the database's URI and pid,
and for ``serve`` its HTTP endpoint and public base URL. Every other command reads that record and
uses the running database instead of starting a second one on the same files.

The lock decides who owns the directory (the kernel drops it when its holder dies, even by
``kill -9``), so a record left by a killed process is recognised as stale without guessing. The
pid and port checks are for what the lock cannot tell: whether the owner's database is up yet,
and whether the database a killed owner started is still shutting down on the same files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlsplit

from fhir_server.store.embedded import accepts_connections

logger = logging.getLogger(__name__)

LOCK_FILE: Final = "instance.lock"
RECORD_FILE: Final = "instance.json"
_POLL_SECONDS: Final = 0.1


class DataDirectoryBusy(RuntimeError):
    """Another process owns the data directory in a way that rules out what was asked (message for users)."""


@dataclass(frozen=True)
class InstanceRecord:
    """What the owner of a data directory publishes about itself."""

    pid: int
    command: str  # "serve", "import", "users create" ...
    embedded: bool = True  # False: it uses an external MongoDB (FHIR_MONGODB_URI)
    database_uri: str | None = None  # the embedded database it runs (None: not up yet, or external)
    database_pid: int | None = None
    http_url: str | None = None  # where ``serve`` listens, e.g. http://127.0.0.1:8080
    base_url: str | None = None  # the public FHIR base ``serve`` answers for
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self) -> str:
        where = f", {self.http_url}" if self.http_url else ""
        return f"`fhir-server {self.command}` (pid {self.pid}{where})"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InstanceRecord:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def pid_alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    state = _proc_state(pid)
    return state != "Z"  # a zombie is dead, only not yet reaped


def _proc_state(pid: int) -> str | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _holds_files_of(pid: int | None, data_dir: Path) -> bool:
    """Whether ``pid`` is alive and (where Linux can tell) a database on ``data_dir``'s files, not a
    process that got the pid of one that exited."""
    if not pid_alive(pid):
        return False
    try:
        command_line = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # cannot tell: assume the worst
    return any(str(path).encode() in command_line for path in (data_dir, data_dir.resolve()))


def _database_reachable(uri: str | None) -> bool:
    if not uri:
        return False
    parts = urlsplit(uri)
    return (
        parts.hostname is not None
        and parts.port is not None
        and accepts_connections(parts.hostname, parts.port)
    )


def _read_record(data_dir: Path) -> InstanceRecord | None:
    try:
        data = json.loads((data_dir / RECORD_FILE).read_text())
        return InstanceRecord.from_json(data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


class Ownership:
    """The held lock of a data directory and the record published under it."""

    def __init__(self, data_dir: Path, lock: IO[bytes], stale: InstanceRecord | None) -> None:
        self.data_dir = data_dir
        self._lock = lock
        self.stale = stale  # what a killed previous owner left behind, if anything
        self.record: InstanceRecord | None = None

    def publish(self, record: InstanceRecord) -> None:
        """Write the record atomically (readers never see half of it)."""
        self.record = record
        temporary = self.data_dir / f".{RECORD_FILE}.{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(json.dumps(asdict(record), indent=2) + "\n")
        os.replace(temporary, self.data_dir / RECORD_FILE)

    def update(self, **changes: Any) -> None:
        if self.record is not None:
            self.publish(replace(self.record, **changes))

    def wait_for_previous_database(self, timeout: float = 60.0) -> None:
        """A killed owner's database is told to stop (it dies with its parent) and checkpoints on the
        way out: wait until it is gone, or starting another on the same files fails."""
        pid = self.stale.database_pid if self.stale else None
        deadline = time.monotonic() + timeout
        while _holds_files_of(pid, self.data_dir) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        if _holds_files_of(pid, self.data_dir):
            raise DataDirectoryBusy(
                f"the database (pid {pid}) of a previous server on {self.data_dir} is still running: "
                "stop it, then try again"
            )

    def release(self) -> None:
        """Remove the record and drop the lock (on a clean exit)."""
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / RECORD_FILE).unlink()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


def claim(data_dir: Path) -> Ownership | None:
    """Become the owner of ``data_dir``, or None when a live process owns it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / LOCK_FILE, "a+b")  # noqa: SIM115 - held until release()
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    stale = _read_record(data_dir)
    if stale is not None:
        logger.info("data directory: the previous owner (pid %d) did not exit cleanly", stale.pid)
        with contextlib.suppress(FileNotFoundError):
            (data_dir / RECORD_FILE).unlink()
    return Ownership(data_dir, lock, stale)


def owner_is_live(data_dir: Path) -> bool:
    """Whether some process holds the directory's lock (without taking it)."""
    try:
        with open(data_dir / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def running_instance(data_dir: Path) -> InstanceRecord | None:
    """The live owner's record as it stands (None when no process owns the directory)."""
    if not (data_dir / LOCK_FILE).exists() or not owner_is_live(data_dir):
        return None
    record = _read_record(data_dir)
    return record if record is not None and pid_alive(record.pid) else None


def running_database(data_dir: Path, *, timeout: float = 60.0) -> InstanceRecord:
    """The live owner's record once its database accepts connections.

    Waits while the owner is starting (or its supervisor restarts the database); raises
    ``DataDirectoryBusy`` when it does not come up in ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    record = running_instance(data_dir)
    while time.monotonic() < deadline:
        if record is not None and not record.embedded:
            raise DataDirectoryBusy(
                f"{record.describe()} on {data_dir} uses an external MongoDB: give this command "
                "the same FHIR_MONGODB_URI"
            )
        if record is not None and _database_reachable(record.database_uri):
            return record
        if not owner_is_live(data_dir):
            raise DataDirectoryBusy(f"the process that owned {data_dir} exited: run the command again")
        time.sleep(_POLL_SECONDS)
        record = running_instance(data_dir)
    who = record.describe() if record is not None else "another process"
    raise DataDirectoryBusy(
        f"{who} owns {data_dir} but its database did not answer within {timeout:.0f} s: "
        "check that server's log, or stop it and run this command alone"
    )
