"""``fhir-server serve``: own the data directory, start (and supervise) the embedded database, run uvicorn.

The serve process owns the data directory for its whole life (``fhir_server.store.instance``) and
records there where its database, its HTTP endpoint and its public base URL are, so that every
other command run with the same configuration uses this server's database and URLs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Final

from fhir_server import __version__
from fhir_server.settings import Settings, get_settings
from fhir_server.store.embedded import EmbeddedDatabase
from fhir_server.store.instance import InstanceRecord, claim, running_instance
from fhir_server.store.mongo import own_embedded
from fhir_server.store.supervisor import EmbeddedSupervisor

GRACEFUL_SHUTDOWN_SECONDS: Final = 30
DEFAULT_DATA_DIR: Final = Path("var")


class ServeError(RuntimeError):
    """``serve`` cannot start; the message says why and what to do."""


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ServeError(
                f"cannot listen on {host}:{port} ({error.strerror}): choose another with --port"
            ) from None


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::"}:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def own_command() -> str:
    """How to run this very ``fhir-server`` again, copy-pastable from any shell."""
    invoked = Path(sys.argv[0])
    if invoked.name == "fhir-server":
        on_path = shutil.which("fhir-server")
        if on_path is not None and Path(on_path).resolve() == invoked.resolve():
            return "fhir-server"
        return shlex.quote(str(invoked.resolve()))
    return f"{shlex.quote(sys.executable)} -m fhir_server.cli"


def banner(settings: Settings, *, command: str) -> str:
    """What ``serve`` prints once it is about to listen: where everything is, and a first token."""
    base = settings.base_url.rstrip("/")
    root = base.removesuffix("/fhir")
    data_dir = settings.data_dir
    prefix = "" if data_dir == DEFAULT_DATA_DIR else f"FHIR_DATA_DIR={shlex.quote(str(data_dir.resolve()))} "
    database = (
        f"embedded, in {data_dir / 'db'} (durability: {settings.embedded_durability})"
        if settings.embedded
        else "MongoDB at FHIR_MONGODB_URI"
    )
    lines = [
        f"FHIR server for clinics {__version__}",
        f"  FHIR base  {base}",
        f"  API docs   {root}/docs",
        f"  metadata   {base}/metadata",
        f"  database   {database}",
        f"  listening  {settings.host}:{settings.port}",
    ]
    if not settings.auth_enabled:
        lines.append("Authorization is off (FHIR_AUTH_ENABLED=false): no token needed.")
        return "\n".join(lines)
    where = " (from this directory)" if not prefix else ""
    lines += [
        f"A first token{where}, then a first search:",
        f"  TOKEN=$({prefix}{command} dev-token --scope 'system/Patient.cruds')",
        f'  curl -H "Authorization: Bearer $TOKEN" {base}/Patient',
        f"Clinic users and SMART apps: {prefix}{command} users create --help",
        f"  and {prefix}{command} clients create --help",
    ]
    return "\n".join(lines)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(host: str | None, port: int | None) -> int:
    """Run the server until it is stopped; raises ``ServeError`` (and friends) when it cannot start."""
    import uvicorn

    from fhir_server.observability import configure_logging, prepare_multiprocess_dir

    if host:
        os.environ["FHIR_HOST"] = host
    if port:
        os.environ["FHIR_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings)
    _check_port_free(settings.host, settings.port)
    ownership = claim(settings.data_dir)
    if ownership is None:
        owner = running_instance(settings.data_dir)
        who = owner.describe() if owner is not None else "another process"
        raise ServeError(
            f"{who} already runs on the data directory {settings.data_dir}: stop it first, or give "
            "this server its own FHIR_DATA_DIR"
        )
    embedded: EmbeddedDatabase | None = None
    supervisor: EmbeddedSupervisor | None = None
    try:
        if settings.embedded:
            # Started here, not per worker, so every worker shares one database.
            embedded = own_embedded(settings, ownership, command="serve")
            os.environ["FHIR_MONGODB_URI"] = embedded.uri
            get_settings.cache_clear()  # the app (built by uvicorn below) must see the URI
            supervisor = EmbeddedSupervisor(
                embedded, on_restart=lambda database: ownership.update(database_pid=database.pid)
            )
            supervisor.start()
        ownership.publish(
            InstanceRecord(
                pid=os.getpid(),
                command="serve",
                embedded=embedded is not None,
                database_uri=embedded.uri if embedded else None,
                database_pid=embedded.pid if embedded else None,
                http_url=f"http://{_url_host(settings.host)}:{settings.port}",
                base_url=settings.base_url.rstrip("/"),
            )
        )
        print(banner(settings, command=own_command()), flush=True)
        prepare_multiprocess_dir()
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; make that an exception so
        # the `finally` below still stops the embedded database cleanly.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        uvicorn.run(
            "fhir_server.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,  # our middleware logs requests without PHI
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            proxy_headers=True,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()
        if embedded is not None:
            embedded.stop()
        ownership.release()
    return 0
