"""Concurrent booking throughput: how many Appointment creations per second the no-double-booking
rule allows, and how contention (many clients racing for the same practitioner) changes that.

Runs the real app in-process over ASGI against an embedded SecantusDB (or ``--mongodb-uri``), or
against a running server with ``--url`` (auth must be off there, or pass ``--token``).

    uv run python benchmarks/booking_bench.py --requests 400 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fhir_server.main import create_app
from fhir_server.settings import Settings
from fhir_server.store.embedded import MEMORY, start_embedded


@dataclass(frozen=True)
class Scenario:
    name: str
    practitioners: int  # requests spread over this many practitioners (1: everyone races for one)


SCENARIOS = (Scenario("spread (no conflicts)", 0), Scenario("contended (8 practitioners)", 8))


def booking(index: int, scenario: Scenario, run: str) -> dict[str, Any]:
    """Request ``index``: with ``practitioners`` = 0 each request has its own practitioner; otherwise
    requests share practitioners and each 30-minute time is wanted by several clients."""
    if scenario.practitioners == 0:
        practitioner, slot = f"{run}-{index}", 0
    else:
        practitioner, slot = f"{run}-{index % scenario.practitioners}", index // (scenario.practitioners * 3)
    day, half_hours = divmod(slot, 16)
    hour, half = divmod(half_hours, 2)
    start = f"2032-01-{1 + day % 28:02d}T{8 + hour:02d}:{30 * half:02d}:00Z"
    end = f"2032-01-{1 + day % 28:02d}T{8 + hour:02d}:{30 * half + 29:02d}:00Z"
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": start,
        "end": end,
        "participant": [
            {"actor": {"reference": f"Practitioner/{practitioner}"}, "status": "accepted"},
            {"actor": {"reference": f"Patient/{run}-p{index}"}, "status": "accepted"},
        ],
    }


async def run_scenario(
    client: httpx.AsyncClient, scenario: Scenario, requests: int, concurrency: int
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def one(index: int) -> None:
        async with gate:
            began = time.perf_counter()
            response = await client.post("/Appointment", json=booking(index, scenario, run))
            latencies.append(time.perf_counter() - began)
            statuses[response.status_code] += 1

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(requests)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "scenario": scenario.name,
        "requests/s": round(requests / elapsed, 1),
        "statuses": dict(sorted(statuses.items())),
        "p50 ms": round(statistics.median(latencies) * 1000, 1),
        "p95 ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
    }


@asynccontextmanager
async def in_process_client(mongodb_uri: str | None) -> AsyncIterator[httpx.AsyncClient]:
    embedded = None if mongodb_uri else start_embedded(storage=MEMORY)
    uri = mongodb_uri or (embedded.uri if embedded else "")
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                mongodb_uri=uri,
                database_name=f"bench_{uuid.uuid4().hex[:8]}",
                data_dir=Path(data_dir),
                base_url="http://bench/fhir",
                auth_enabled=False,
                metrics_enabled=False,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench/fhir") as client:
                    yield client
                await app.state.mongo_client.drop_database(settings.database_name)
    finally:
        if embedded is not None:
            embedded.stop()


@asynccontextmanager
async def remote_client(url: str, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
        yield client


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200, help="bookings per scenario")
    parser.add_argument("--concurrency", type=int, default=12, help="requests in flight at once")
    parser.add_argument("--url", help="FHIR base of a running server (default: the app in-process)")
    parser.add_argument("--token", help="bearer token for --url")
    parser.add_argument("--mongodb-uri", help="MongoDB for the in-process app (default: embedded)")
    args = parser.parse_args()
    opened = remote_client(args.url, args.token) if args.url else in_process_client(args.mongodb_uri)
    async with opened as client:
        await client.post("/Appointment", json=booking(0, SCENARIOS[0], "warm-up"))
        for scenario in SCENARIOS:
            result = await run_scenario(client, scenario, args.requests, args.concurrency)
            print("  ".join(f"{key}: {value}" for key, value in result.items()))


if __name__ == "__main__":
    asyncio.run(main())
