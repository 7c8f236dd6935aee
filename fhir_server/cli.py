"""The ``fhir-server`` command: serve, import, users, clients, dev-token, config-table ..."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from fhir_server.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SubcommandInstaller = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _serve(args: argparse.Namespace) -> int:
    from fhir_server.serve import serve

    return serve(args.host, args.port)


def _sweep_blobs(args: argparse.Namespace) -> int:
    import asyncio
    from datetime import timedelta

    from fhir_server.documents.sweeper import open_inventory, sweep_blobs
    from fhir_server.store.blobs import open_blob_store
    from fhir_server.store.mongo import open_database

    settings = get_settings()
    if args.min_age is not None and args.min_age < MIN_SWEEP_AGE_SECONDS:
        print(
            f"fhir-server sweep-blobs: error: --min-age must be at least {MIN_SWEEP_AGE_SECONDS} "
            "(younger bytes may belong to a write still in flight)",
            file=sys.stderr,
        )
        return 2
    min_age = timedelta(seconds=args.min_age if args.min_age is not None else settings.blob_sweep_min_age)

    async def sweep() -> str:
        blob_store = open_blob_store(settings)
        try:
            async with open_database(settings, command="sweep-blobs") as db:
                report = await sweep_blobs(
                    db=db, blob_store=blob_store, inventory=open_inventory(settings), min_age=min_age
                )
        finally:
            await blob_store.close()
        return (
            f"deleted {report.deleted} blobs no Binary names and {report.unfinished} unfinished uploads "
            f"(older than {min_age}); kept {report.kept}"
        )

    print(asyncio.run(sweep()))
    return 0


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


def _duplicate_identifiers(args: argparse.Namespace) -> int:
    """Identifier values that several current resources carry, for each system declared unique
    (FHIR_UNIQUE_IDENTIFIERS) or named: what to merge. Exit 1 when there are any."""
    import asyncio

    from fhir_server.assembly import assembled
    from fhir_server.identifiers import parse_unique_identifiers
    from fhir_server.store.mongo import open_database

    settings = get_settings()
    declared = parse_unique_identifiers(settings.unique_identifiers)
    if args.type is not None:
        wanted = {args.type: frozenset(args.system or declared.get(args.type, frozenset()))}
    else:
        wanted = dict(declared)

    async def find() -> list[str]:
        lines: list[str] = []
        async with open_database(settings, command="identifiers") as db, assembled(settings, db) as pipeline:
            for resource_type, systems in sorted(wanted.items()):
                for system in sorted(systems):
                    found = await pipeline.services.search.duplicate_identifiers(
                        resource_type=resource_type, system=system
                    )
                    lines += [f"{resource_type} {system}|{value}: {', '.join(ids)}" for value, ids in found]
        return lines

    lines = asyncio.run(find())
    for line in lines:
        print(line)
    if not lines:
        print("no duplicate identifiers", file=sys.stderr)
    return 1 if lines else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhir-server", description="FHIR R4B server for clinics")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the HTTP server (embedded database when no FHIR_MONGODB_URI)"
    )
    serve.add_argument("--host", help="interface to bind (FHIR_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (FHIR_PORT)")
    serve.set_defaults(handler=_serve)
    sweep = commands.add_parser(
        "sweep-blobs",
        help="delete stored bytes no Binary names (left by writes that never committed); "
        "the server also does it every FHIR_BLOB_SWEEP_INTERVAL seconds",
    )
    sweep.add_argument(
        "--min-age",
        type=int,
        metavar="SECONDS",
        help="only bytes older than this (default FHIR_BLOB_SWEEP_MIN_AGE): a write in flight keeps its own",
    )
    sweep.set_defaults(handler=_sweep_blobs)
    identifiers = commands.add_parser(
        "duplicate-identifiers",
        help="list identifier values several current resources carry (the unique systems by default)",
    )
    identifiers.add_argument("--type", help="one resource type (e.g. Patient)")
    identifiers.add_argument(
        "--system", action="append", help="an identifier system (repeatable; with --type)"
    )
    identifiers.set_defaults(handler=_duplicate_identifiers)
    table = commands.add_parser("config-table", help="print the configuration table (Markdown)")
    table.add_argument("--write", metavar="README", help="replace the table between the markers in this file")
    table.set_defaults(handler=_config_table)
    for install in _installers():
        install(commands)
    return parser


MIN_SWEEP_AGE_SECONDS: Final = 60
# Commands that neither use nor sign for a running server.
_STANDALONE_COMMANDS: Final = frozenset({"serve", "config-table"})


def use_running_server_urls() -> None:
    """Point this command at the base URL of the server running on the same data directory.

    Tokens are signed for, and printed URLs name, the base URL the server really serves (its host,
    its port, ``FHIR_BASE_URL``), which only that server knows: it records it in the data directory."""
    from fhir_server.store.instance import running_instance

    settings = get_settings()
    server = running_instance(settings.data_dir)
    if server is not None and server.base_url and server.base_url != settings.base_url.rstrip("/"):
        os.environ["FHIR_BASE_URL"] = server.base_url
        get_settings.cache_clear()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:  # a command group without its subcommand (`fhir-server users`)
        print(f"fhir-server {args.command}: error: name a subcommand (see fhir-server {args.command} --help)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        if args.command not in _STANDALONE_COMMANDS:
            use_running_server_urls()
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        from fhir_server.cli_errors import user_error_message  # not at start-up: it imports pymongo

        message = user_error_message(error)
        if message is None:
            raise
        print(f"fhir-server {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
