"""Import every shared Synthea bundle into a fresh embedded database, check it loaded completely,
and report the throughput.

    uv run python benchmarks/import_bench.py [--workers 1] [--data ../shared/data]

Prints resources/s of wall time and per CPU-second (this process and the database process
together), so the figure means something on a shared or busy machine. Then checks that the counts
per type equal what the bundles declare (``index.json``; DocumentReference attachments become
Binary resources on top) and that no stored reference still holds ``urn:uuid:`` or ``?identifier=``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from rich.console import Console

from fhir_server.importer.cli import import_files, plan, summary_table
from fhir_server.importer.runner import EMBEDDED_WORKERS, ImportReport
from fhir_server.settings import Settings
from fhir_server.store import documents as f
from fhir_server.store.embedded import MEMORY, EmbeddedDatabase, start_embedded

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FOLDERS = ("synthea-2021", "synthea-2019")
_LEFTOVER = re.compile(r'"reference":"(urn:uuid:[^"]*|[A-Za-z]+\?identifier=[^"]*)"')


@dataclass
class Check:
    counts: Counter[str]
    declared: Counter[str]
    leftovers: int

    @property
    def complete(self) -> bool:
        derived = Counter({"Binary": self.counts["Binary"]}) if "Binary" not in self.declared else Counter()
        return self.counts - derived == self.declared and self.leftovers == 0


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _database_cpu_seconds(database: EmbeddedDatabase) -> float:
    """User + system CPU of the database process so far (Linux /proc)."""
    fields = Path(f"/proc/{database.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def declared_counts(folders: list[Path]) -> Counter[str]:
    declared: Counter[str] = Counter()
    for folder in folders:
        for item in orjson.loads((folder / "index.json").read_bytes()):
            declared.update(item["resourceCounts"])
    return declared


async def check_database(db: AsyncDatabase[dict[str, Any]], declared: Counter[str]) -> Check:
    counts: Counter[str] = Counter()
    leftovers = 0
    prefix = f.resource_collection_name("")
    for name in await db.list_collection_names():
        if not name.startswith(prefix):
            continue
        counts[name[len(prefix) :]] = await db[name].count_documents({f.DELETED: {"$ne": True}})
        async for doc in db[name].find({f.DELETED: {"$ne": True}}, {f.RESOURCE: 1}):
            leftovers += len(_LEFTOVER.findall(orjson.dumps(doc[f.RESOURCE]).decode()))
    return Check(+counts, declared, leftovers)


async def import_and_check(
    settings: Settings, folders: list[Path], workers: int
) -> tuple[ImportReport, Check]:
    report = await import_files(settings, plan(folders), workers=workers, console=Console(stderr=True))
    assert settings.mongodb_uri is not None
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        return report, await check_database(client[settings.database_name], declared_counts(folders))
    finally:
        await client.close()


def run(data: Path, workers: int, cache_size: str) -> int:
    folders = [data / name for name in FOLDERS]
    missing = [folder for folder in folders if not folder.is_dir()]
    if missing:
        print(f"missing data folders: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    # A cache big enough for the whole data set (SecantusDB's default 1G fills up).
    database = start_embedded(storage=MEMORY, cache_size=cache_size)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            settings = Settings(
                mongodb_uri=database.uri,
                database_name="import_bench",
                data_dir=Path(scratch),
                auth_enabled=False,
            )
            own_before, db_before = _own_cpu_seconds(), _database_cpu_seconds(database)
            started = time.perf_counter()
            report, check = asyncio.run(import_and_check(settings, folders, workers))
            wall = report.seconds or time.perf_counter() - started
            own = _own_cpu_seconds() - own_before
            db = _database_cpu_seconds(database) - db_before
    finally:
        database.stop()
    out = Console()
    out.print(summary_table(report))
    total = report.resources
    out.print(f"files: {report.files}  resources: {total:,}  failures: {len(report.failures)}")
    out.print(f"import wall time: {wall:.1f} s -> {total / wall:,.0f} resources/s")
    out.print(
        f"cpu (import and check): importer {own:.1f} s, database {db:.1f} s -> {total / own:,.0f} resources "
        f"per importer cpu-second, {total / (own + db):,.0f} per cpu-second of both processes"
    )
    out.print(
        f"complete: {check.complete} (stored {sum(check.counts.values()):,}, declared "
        f"{sum(check.declared.values()):,}, Binary from attachments {check.counts['Binary']:,}, "
        f"leftover urn:uuid/?identifier= references {check.leftovers})"
    )
    for failure in report.failures[:20]:
        print(f"failed: {failure}", file=sys.stderr)
    return 0 if check.complete and not report.failures else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument(
        "--workers", type=int, default=EMBEDDED_WORKERS, help="files imported concurrently (embedded: 1)"
    )
    parser.add_argument("--cache-size", default="4G", help="the database's WiredTiger cache (default 4G)")
    args = parser.parse_args()
    return run(args.data, args.workers, args.cache_size)


if __name__ == "__main__":
    sys.exit(main())
