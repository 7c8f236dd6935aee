"""The ``fhir-server`` command: serve, import, users, clients, dev-token, config-table ..."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from fhir_server.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SubcommandInstaller = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fhir_server.auth.cli import first_token_hint
    from fhir_server.observability import configure_logging, prepare_multiprocess_dir
    from fhir_server.store.mongo import start_configured_embedded

    if args.host:
        os.environ["FHIR_HOST"] = args.host
    if args.port:
        os.environ["FHIR_PORT"] = str(args.port)
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings)
    embedded = None
    if settings.mongodb_uri is None:
        # Started here, not per worker, so every worker shares one database.
        embedded = start_configured_embedded(settings)
        os.environ["FHIR_MONGODB_URI"] = embedded.uri
        get_settings.cache_clear()
    print(f"FHIR base: http://{settings.host}:{settings.port}/fhir  (public base URL: {settings.base_url})")
    print(first_token_hint(settings), flush=True)
    prepare_multiprocess_dir()
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; make that an exception so the
    # `finally` below still stops the embedded database cleanly.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            "fhir_server.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,  # our middleware logs requests without PHI
            timeout_graceful_shutdown=30,
            proxy_headers=True,
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _config_table(args: argparse.Namespace) -> int:
    if args.write:
        path = Path(args.write)
        path.write_text(readme_with_config_table(path.read_text()))
    else:
        print(config_table())
    return 0


def _between(text: str, name: str, content: str) -> str:
    """``text`` with ``content`` between the markers ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{content}\n{end}{tail}"


def readme_with_config_table(readme: str) -> str:
    """The README with its generated tables (configuration, clinic roles) between their markers."""
    from fhir_server.auth.roles import roles_markdown

    return _between(_between(readme, "config-table", config_table()), "roles-table", roles_markdown())


def config_table() -> str:
    """The README's configuration table, generated from Settings so the docs cannot drift."""
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default is None else f"`{default}`"
        rows.append(f"| `FHIR_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


def _installers() -> list[SubcommandInstaller]:
    from fhir_server.audit.cli import add_subcommand as audit_subcommand
    from fhir_server.auth.cli import add_subcommands as auth_subcommands
    from fhir_server.importer.cli import add_subcommand as import_subcommand
    from fhir_server.importer.clinic import add_clinic_subcommand

    return [auth_subcommands, import_subcommand, add_clinic_subcommand, audit_subcommand]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhir-server", description="FHIR R4B server for clinics")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the HTTP server (embedded database when no FHIR_MONGODB_URI)"
    )
    serve.add_argument("--host", help="interface to bind (FHIR_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (FHIR_PORT)")
    serve.set_defaults(handler=_serve)
    table = commands.add_parser("config-table", help="print the configuration table (Markdown)")
    table.add_argument("--write", metavar="README", help="replace the table between the markers in this file")
    table.set_defaults(handler=_config_table)
    for install in _installers():
        install(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
