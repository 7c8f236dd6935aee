"""Import every shared Synthea bundle into a fresh embedded database and report the throughput.

    uv run python benchmarks/import_bench.py [--workers 4] [--data ../shared/data]

Prints resources/s of wall time and per CPU-second (this process and the database process
together), so the figure means something on a shared or busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from fhir_server.importer.cli import import_files, plan, summary_table
from fhir_server.settings import Settings
from fhir_server.store.embedded import MEMORY, EmbeddedDatabase, start_embedded

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child_cpu_seconds(database: EmbeddedDatabase) -> float:
    """User + system CPU of the database process so far (Linux /proc)."""
    fields = Path(f"/proc/{database.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(data: Path, workers: int) -> int:
    folders = [data / "synthea-2021", data / "synthea-2019"]
    missing = [folder for folder in folders if not folder.is_dir()]
    if missing:
        print(f"missing data folders: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    database = start_embedded(storage=MEMORY)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            settings = Settings(
                mongodb_uri=database.uri,
                database_name="import_bench",
                data_dir=Path(scratch),
                auth_enabled=False,
            )
            units = plan(folders)
            own_before, db_before = _own_cpu_seconds(), _child_cpu_seconds(database)
            started = time.perf_counter()
            report = asyncio.run(import_files(settings, units, workers=workers, console=console))
            wall = time.perf_counter() - started
            own = _own_cpu_seconds() - own_before
            db = _child_cpu_seconds(database) - db_before
    finally:
        database.stop()
    out = Console()
    out.print(summary_table(report))
    total = report.resources
    out.print(f"files: {report.files}  resources: {total:,}  failures: {len(report.failures)}")
    out.print(f"wall: {wall:.1f} s  -> {total / wall:,.0f} resources/s")
    out.print(
        f"cpu: importer {own:.1f} s, database {db:.1f} s -> {total / own:,.0f} resources per importer "
        f"cpu-second, {total / (own + db):,.0f} per cpu-second of both processes"
    )
    for failure in report.failures[:20]:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if report.failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--workers", type=int, default=4, help="files imported concurrently")
    args = parser.parse_args()
    return run(args.data, args.workers)


if __name__ == "__main__":
    sys.exit(main())
