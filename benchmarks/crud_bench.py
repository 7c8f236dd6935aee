"""Create, read and update of Patients against a real server process (auth on, embedded database).

Workload: N Synthea-shaped Patients, created, read and updated sequentially by one client, then
the same with C concurrent clients. Prints throughput and p50/p95 per phase.

    uv run python benchmarks/crud_bench.py [--count 500] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import httpx

from benchmarks.server_process import running_server
from benchmarks.stats import summary


def patient(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": "http://clinic.example.org/mrn", "value": f"bench-{uuid.uuid4().hex[:12]}"}
        ],
        "name": [{"use": "official", "family": f"Family{n}", "given": ["Given", f"N{n}"]}],
        "gender": "female" if n % 2 else "male",
        "birthDate": f"19{50 + n % 50}-0{1 + n % 9}-1{n % 10}",
        "telecom": [{"system": "phone", "value": f"555-01{n % 100:02d}", "use": "home"}],
        "address": [{"line": [f"{n} Main St"], "city": "Springfield", "state": "MA", "postalCode": "01101"}],
    }


async def timed(
    calls: Sequence[Callable[[], Awaitable[httpx.Response]]], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(reversed(calls))

    async def worker() -> None:
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            response = await call()
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def run(base_url: str, token: str, count: int, concurrency: int) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(
        base_url=f"{base_url}/fhir", headers=headers, limits=limits, timeout=60
    ) as client:
        for label, workers in (("sequential", 1), (f"concurrent x{concurrency}", concurrency)):
            created: list[dict[str, Any]] = []

            async def create(n: int, into: list[dict[str, Any]] = created) -> httpx.Response:
                response = await client.post("/Patient", json=patient(n))
                into.append(response.json())
                return response

            latencies, elapsed = await timed([partial(create, n) for n in range(count)], workers)
            print(summary(f"create ({label})", latencies, elapsed))
            reads = [partial(client.get, f"/Patient/{r['id']}") for r in created]
            latencies, elapsed = await timed(reads, workers)
            print(summary(f"read ({label})", latencies, elapsed))
            updates = [
                partial(client.put, f"/Patient/{r['id']}", json={**r, "active": True}) for r in created
            ]
            latencies, elapsed = await timed(updates, workers)
            print(summary(f"update ({label})", latencies, elapsed))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with running_server() as server:
        token = server.dev_token("system/Patient.cruds")
        print(f"server {server.base_url}; {args.count} Patients per phase")
        asyncio.run(run(server.base_url, token, args.count, args.concurrency))


if __name__ == "__main__":
    main()
