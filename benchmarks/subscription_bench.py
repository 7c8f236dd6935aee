"""Subscription notifications against a real server process (auth on, embedded database).

Workload: S receivers (real HTTP servers in this process) and S topic-based subscriptions
(``lab-result-final``, full-resource, one event per notification), then final lab Observations
written at R writes/s for D seconds, each matching every subscription.

* latency: from the write's response (the write has committed by then) to the notification's
  arrival at each receiver, p50/p95 over all deliveries;
* delivery throughput while keeping up with the writes, and the drain rate of a backlog: receivers
  down while B writes queue, then up (deliveries/s until all arrived).

    uv run python benchmarks/subscription_bench.py [--subscribers 10] [--rate 50] [--seconds 20]
        [--backlog 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from benchmarks.server_process import ServerProcess, running_server
from benchmarks.stats import percentile
from fhir_server.store.embedded import free_port

TOPIC = "http://clinic.example.org/fhir/SubscriptionTopic/lab-result-final"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"


@dataclass
class Receiver:
    index: int
    port: int = field(default_factory=free_port)
    arrivals: dict[str, float] = field(default_factory=dict)  # resource id -> time.time() of arrival
    duplicates: int = 0
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                bundle = json.loads(body)
                with receiver.lock:
                    for entry in bundle["entry"][1:]:
                        resource_id = entry["resource"]["id"]
                        if resource_id in receiver.arrivals:
                            receiver.duplicates += 1
                        else:
                            receiver.arrivals[resource_id] = arrived
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def subscription(endpoint: str) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "meta": {"profile": [BACKPORT + "backport-subscription"]},
        "status": "requested",
        "reason": "benchmark",
        "criteria": TOPIC,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": "full-resource"}]
            },
        },
    }


def observation(patient_id: str, n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "valueQuantity": {"value": 10 + n % 7, "unit": "g/dL"},
    }


async def write_at_rate(
    http: httpx.AsyncClient, patient_id: str, rate: float, seconds: float, start_n: int = 0
) -> dict[str, float]:
    """Write ``rate`` Observations per second for ``seconds``; id -> time.time() of the response."""
    committed: dict[str, float] = {}
    interval = 1.0 / rate

    async def one(n: int) -> None:
        response = await http.post("/Observation", json=observation(patient_id, n))
        response.raise_for_status()
        committed[response.json()["id"]] = time.time()

    tasks = []
    began = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = began + n * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(start_n + n)))
    await asyncio.gather(*tasks)
    return committed


async def wait_all(receivers: list[Receiver], ids: set[str], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(ids <= r.arrivals.keys() for r in receivers):
            return
        await asyncio.sleep(0.1)
    missing = sum(len(ids - r.arrivals.keys()) for r in receivers)
    raise RuntimeError(f"{missing} deliveries missing after {within:.0f} s")


async def active(http: httpx.AsyncClient, subscription_id: str) -> None:
    for _ in range(600):
        if (await http.get(f"/Subscription/{subscription_id}")).json()["status"] == "active":
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("a subscription did not become active")


async def run(server: ServerProcess, args: argparse.Namespace) -> None:
    receivers = [Receiver(i) for i in range(args.subscribers)]
    for receiver in receivers:
        receiver.up()
    token = server.dev_token("system/Patient.cruds system/Observation.cruds system/Subscription.cruds")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"{server.base_url}/fhir", headers=headers, timeout=60) as http:
        patient = (
            await http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Bench"}]})
        ).json()
        ids = []
        for receiver in receivers:
            created = await http.post("/Subscription", json=subscription(receiver.url))
            created.raise_for_status()
            ids.append(created.json()["id"])
        for subscription_id in ids:  # handshakes done: active
            await active(http, subscription_id)

        print(f"workload: {args.subscribers} subscriptions, {args.rate:g} writes/s for {args.seconds:g} s")
        began = time.time()
        committed = await write_at_rate(http, patient["id"], args.rate, args.seconds)
        print(f"writes                   {len(committed)} in {time.time() - began:.1f} s")
        await wait_all(receivers, set(committed), within=300)
        latencies = [r.arrivals[i] - committed[i] for r in receivers for i in committed]
        last = max(r.arrivals[i] for r in receivers for i in committed)
        print(
            f"latency write->receipt   n={len(latencies)}  p50={percentile(latencies, 0.5) * 1000:.0f} ms  "
            f"p95={percentile(latencies, 0.95) * 1000:.0f} ms  max={max(latencies) * 1000:.0f} ms"
        )
        print(
            f"deliveries while writing {len(latencies) / (last - began):.0f}/s "
            f"(all delivered {last - began:.1f} s after the first write)"
        )

        for receiver in receivers:
            receiver.down()
        backlog = await write_at_rate(http, patient["id"], args.rate, args.backlog / args.rate, start_n=10**6)
        await asyncio.sleep(2.0)
        drain_start = time.time()
        for receiver in receivers:
            receiver.up()
        await wait_all(receivers, set(backlog), within=600)
        drained = max(r.arrivals[i] for r in receivers for i in backlog) - drain_start
        count = len(backlog) * len(receivers)
        print(
            f"backlog drain            {count} deliveries in {drained:.1f} s = {count / drained:.0f}/s "
            "(includes the retry back-off in progress when the receivers came back)"
        )
        print(f"duplicates received      {sum(r.duplicates for r in receivers)}")
    for receiver in receivers:
        receiver.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--backlog", type=int, default=300, help="writes queued while the receivers are down")
    args = parser.parse_args()
    env = {
        "FHIR_SUBSCRIPTION_ALLOWED_ENDPOINTS": '["http://127.0.0.1:*"]',
        "FHIR_SUBSCRIPTION_RETRY_MAX_SECONDS": "2",
    }
    with running_server(extra_env=env) as server:
        asyncio.run(run(server, args))


if __name__ == "__main__":
    main()
