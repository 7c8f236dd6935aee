"""Binary upload and download throughput against a real server process (auth on, local blob store).

Workload: a 20 MB PDF-shaped file, streamed to ``POST /fhir/Binary`` (raw bytes) and read back with
``GET /fhir/Binary/{id}`` (streamed, SHA-1 checked), R times each. Prints MB/s per transfer and
the median. Client and server share the machine, so this measures the server's streaming path
(sniffing, hashing, size accounting, disk writes), not a network.

    uv run python benchmarks/blob_bench.py [--size-mb 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import time
from collections.abc import AsyncIterator

import httpx

from benchmarks.server_process import ServerProcess, running_server
from fhir_server.auth.devtoken import make_dev_token
from fhir_server.settings import Settings

CHUNK = 256 * 1024
MB = 1_000_000
SCOPE = "system/Binary.crs"


class Payload:
    """``size`` bytes starting like a PDF, produced chunk by chunk (never held whole), hashed."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._block = b"%PDF-1.7\n" + os.urandom(4 * CHUNK)
        self.sha1 = hashlib.sha1(usedforsecurity=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.size:
            start = sent % (len(self._block) - CHUNK) if sent else 0
            chunk = self._block[start : start + min(CHUNK, self.size - sent)]
            self.sha1.update(chunk)
            sent += len(chunk)
            yield chunk


def token_for(server: ServerProcess) -> str:
    """A token from ``fhir-server dev-token``, or minted in-process with the server's key file."""
    try:
        return server.dev_token(SCOPE)
    except subprocess.CalledProcessError:
        settings = Settings(
            data_dir=server.env["FHIR_DATA_DIR"], base_url=server.env["FHIR_BASE_URL"], auth_enabled=True
        )
        return make_dev_token(settings=settings, scope=SCOPE)


async def upload(client: httpx.AsyncClient, payload: Payload) -> tuple[str, float]:
    started = time.perf_counter()
    response = await client.post(
        "/Binary", content=payload.chunks(), headers={"Content-Type": "application/pdf"}
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"upload: {response.status_code} {response.text[:300]}")
    return str(response.json()["id"]), elapsed


async def download(client: httpx.AsyncClient, binary_id: str, payload: Payload) -> float:
    sha1 = hashlib.sha1(usedforsecurity=False)
    started = time.perf_counter()
    async with client.stream("GET", f"/Binary/{binary_id}", headers={"Accept": "*/*"}) as response:
        if response.status_code != 200:
            raise RuntimeError(f"download: {response.status_code}")
        async for chunk in response.aiter_raw():
            sha1.update(chunk)
    elapsed = time.perf_counter() - started
    if sha1.digest() != payload.sha1.digest():
        raise RuntimeError("download: the bytes differ from what was uploaded")
    return elapsed


def line(label: str, size: int, seconds: list[float]) -> str:
    rates = [size / MB / s for s in seconds]
    each = "  ".join(f"{rate:7.1f}" for rate in rates)
    return f"{label:<10} {size / MB:.0f} MB   MB/s: {each}   median {statistics.median(rates):7.1f}"


async def run(base_url: str, token: str, size: int, repeat: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"{base_url}/fhir", headers=headers, timeout=300) as client:
        uploads: list[float] = []
        downloads: list[float] = []
        for _ in range(repeat):
            payload = Payload(size)
            binary_id, seconds = await upload(client, payload)
            uploads.append(seconds)
            downloads.append(await download(client, binary_id, payload))
        print(line("upload", size, uploads))
        print(line("download", size, downloads))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mb * MB
    with running_server({"FHIR_UPLOAD_MAX_BYTES": str(size + MB)}) as server:
        print(f"server {server.base_url}; local blob store under {server.env['FHIR_DATA_DIR']}")
        asyncio.run(run(server.base_url, token_for(server), size, args.repeat))


if __name__ == "__main__":
    main()
