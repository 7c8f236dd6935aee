"""gzip on a Patient search: throughput with and without, and what each zlib level costs.

Starts a real server process (embedded database), stores ``--patients`` copies of the official
Patient example, then runs ``--rounds`` alternating rounds of ``--requests`` sequential searches
(``GET /fhir/Patient?_count=N``) with ``Accept-Encoding: identity``, with ``gzip``, and (to see
what the default ``Bundle.total`` costs) with ``identity`` and ``_total=none``: alternating, so a
busy machine slows all alike. Then compresses the same search Bundle with zlib at levels 1, 6 and 9
(what the middleware would spend per answer).

    uv run python benchmarks/gzip_bench.py [--patients 100] [--count 20 100] [--rounds 5] [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import zlib
from pathlib import Path

import httpx

from benchmarks.server_process import running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "fhir-r4b-examples"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _load(client: httpx.Client, patients: int) -> None:
    example = json.loads((EXAMPLES / "Patient-example.json").read_text(encoding="utf-8"))
    example.pop("id", None)
    for index in range(patients):
        example["name"][0]["family"] = f"Bench{index:04d}"
        response = client.post("/fhir/Patient", json=example, headers=FHIR_JSON)
        response.raise_for_status()


def _round(client: httpx.Client, url: str, encoding: str, requests: int) -> tuple[float, int]:
    """Requests per second, and the bytes of one answer on the wire."""
    wire = 0
    started = time.perf_counter()
    for _ in range(requests):
        with client.stream("GET", url, headers={"Accept-Encoding": encoding}) as response:
            wire = sum(len(chunk) for chunk in response.iter_raw())
            assert response.status_code == 200
    return requests / (time.perf_counter() - started), wire


def _zlib_cost(body: bytes) -> None:
    for level in (1, 6, 9):
        runs = 50
        started = time.perf_counter()
        for _ in range(runs):
            packed = zlib.compressobj(level, zlib.DEFLATED, 31)
            out = packed.compress(body) + packed.flush()
        micros = (time.perf_counter() - started) / runs * 1e6
        share = len(out) / len(body)
        print(f"    zlib level {level}: {len(out):>7} bytes ({share:.1%}), {micros:7.0f} µs per answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--count", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with running_server() as server:
        token = server.dev_token("system/*.cruds")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            _load(client, args.patients)
            for count in args.count:
                url = f"/fhir/Patient?_count={count}"
                body = client.get(url, headers={"Accept-Encoding": "identity"}).content
                variants = {
                    "identity": (url, "identity"),
                    "gzip": (url, "gzip"),
                    "identity, _total=none": (f"{url}&_total=none", "identity"),
                }
                rates: dict[str, list[float]] = {name: [] for name in variants}
                wire: dict[str, int] = {}
                _round(client, url, "gzip", 5)  # warm up
                for _ in range(args.rounds):
                    for name, (target, encoding) in variants.items():
                        rate, size = _round(client, target, encoding, args.requests)
                        rates[name].append(rate)
                        wire[name] = size
                print(f"GET {url}: a {len(body)}-byte Bundle")
                for name, values in rates.items():
                    print(
                        f"    {name:>21}: {statistics.median(values):6.1f} req/s median "
                        f"(min {min(values):.1f}, max {max(values):.1f}), {wire[name]} bytes on the wire"
                    )
                _zlib_cost(body)


if __name__ == "__main__":
    main()
