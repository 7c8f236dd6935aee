"""``fhir-server import PATH...``: load Bundle and NDJSON files into the configured database."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from fhir_server.assembly import assembled
from fhir_server.context import Principal, RequestContext
from fhir_server.importer.runner import DEFAULT_WORKERS, EMBEDDED_WORKERS, Importer, ImportReport
from fhir_server.importer.sources import (
    DEFAULT_CHUNK,
    ID_POLICIES,
    ImportUnit,
    ReadLimits,
    SourceError,
    discover,
    plan_file,
)
from fhir_server.settings import Settings, get_settings
from fhir_server.store.mongo import open_database


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} resources/s", style="progress.data.speed")


def plan(paths: list[Path], limits: ReadLimits | None = None) -> list[ImportUnit]:
    """Every importable file under ``paths``, batches first (stable within each group)."""
    units = []
    for path, explicit in discover(paths):
        try:
            unit = plan_file(path, explicit, limits)
        except SourceError as error:
            raise SourceError(f"{path}: {error}") from None
        if unit is not None:
            units.append(unit)
    return sorted(units, key=lambda unit: unit.priority)


async def import_files(
    settings: Settings,
    units: list[ImportUnit],
    *,
    workers: int = DEFAULT_WORKERS,
    chunk: int = DEFAULT_CHUNK,
    ids: str = "stable",
    console: Console | None = None,
) -> ImportReport:
    """Import planned units into the configured database, with a progress bar when ``console`` is given."""
    ctx = RequestContext(
        principal=Principal.system(), base_url=settings.base_url.rstrip("/"), request_id="import"
    )
    async with open_database(settings, command="import") as db, assembled(settings, db) as pipeline:
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=console is None,
        ) as progress:
            task = progress.add_task("import", total=sum(unit.entries for unit in units))
            importer = Importer(
                pipeline=pipeline,
                ctx=ctx,
                workers=workers,
                chunk=chunk,
                ids=ids,
                advance=lambda done: progress.advance(task, done),
            )
            return await importer.run(units)


def summary_table(report: ImportReport) -> Table:
    table = Table(title="Imported", show_footer=True)
    types = sorted(set(report.created) | set(report.existing))
    table.add_column("type", footer="total")
    table.add_column("created", justify="right", footer=f"{sum(report.created.values()):,}")
    table.add_column("existing/updated", justify="right", footer=f"{sum(report.existing.values()):,}")
    for name in types:
        table.add_row(name, f"{report.created[name]:,}", f"{report.existing[name]:,}")
    return table


def _handle(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    settings = get_settings()
    try:
        units = plan([Path(path) for path in args.paths], ReadLimits.from_settings(settings))
    except SourceError as error:
        console.print(Text("import failed: ", style="red") + Text(str(error)), soft_wrap=True)
        return 2
    report = asyncio.run(
        import_files(
            settings,
            units,
            workers=args.workers or (EMBEDDED_WORKERS if settings.embedded else DEFAULT_WORKERS),
            chunk=args.chunk,
            ids=args.ids,
            console=None if args.no_progress else console,
        )
    )
    out = Console()
    out.print(summary_table(report))
    out.print(
        f"{report.resources:,} resources from {report.files} files in {report.seconds:.1f} s "
        f"({report.rate:,.0f} resources/s)"
    )
    for failure in report.failures:
        console.print(Text("failed: ", style="red") + Text(str(failure)), soft_wrap=True)
    return 1 if report.failures else 0


def add_subcommand(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Install ``import`` into the ``fhir-server`` command."""
    parser = subparsers.add_parser(
        "import",
        help="load FHIR Bundle (.json, .json.gz) and NDJSON files into the configured database",
        description="Batch bundles are loaded first, then transactions and NDJSON (in transactions of "
        "--chunk resources). Every create gets an id derived from the source (see --ids), so an "
        "interrupted import is finished by running it again. Exits non-zero naming each file and "
        "entry that failed.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"files imported concurrently (default {DEFAULT_WORKERS} with a MongoDB URI, "
        f"{EMBEDDED_WORKERS} with the embedded database)",
    )
    parser.add_argument(
        "--chunk", type=int, default=DEFAULT_CHUNK, help="NDJSON resources per transaction (default 500)"
    )
    parser.add_argument(
        "--ids",
        choices=ID_POLICIES,
        default="stable",
        help="stable (the default): every unconditional create gets an id derived from the source "
        "(the resource's id, its urn:uuid fullUrl, else the file and the entry), so running the same "
        "import again, after a crash say, changes nothing; new: the server assigns new ids, and a "
        "second run stores everything twice",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_handle)
