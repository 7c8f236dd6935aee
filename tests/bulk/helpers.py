"""Driving a bulk export over HTTP (ASGI or a real server): kick off, poll, download, compare."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.support import SHARED

SYNTHEA = SHARED / "data" / "synthea-2019"
# Three small Synthea patients (70, 112 and 117 entries).
SMALL_PATIENTS = ("Clemente_Kreiger", "Felipe_Cazares", "Kermit_Trantow")  # 70, 112 and 117 entries
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def small_patient_files() -> list[Path]:
    return [next(SYNTHEA.glob(f"{name}_*.json.gz")) for name in SMALL_PATIENTS]


async def load(http: httpx.AsyncClient, files: Iterable[Path], headers: dict[str, str]) -> list[str]:
    """POST each transaction bundle; returns the ids of the Patients created."""
    patients: list[str] = []
    for path in files:
        bundle = json.loads(gzip.decompress(path.read_bytes()))
        answer = await http.post(
            "/", json=bundle, headers={**headers, "Content-Type": "application/fhir+json"}
        )
        assert answer.status_code == 200, answer.text[:500]
        for entry in answer.json()["entry"]:
            location = entry["response"]["location"]
            if location.startswith("Patient/"):
                patients.append(location.split("/")[1])
    return patients


async def kick_off(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], params: Any = None, json_body: Any = None
) -> str:
    """Start an export; returns the status URL."""
    if json_body is not None:
        answer = await http.post(path, json=json_body, headers={**ASYNC, **headers})
    else:
        answer = await http.get(path, params=params, headers={**ASYNC, **headers})
    assert answer.status_code == 202, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    location: str = answer.headers["Content-Location"]
    return location


async def wait_manifest(
    http: httpx.AsyncClient, status_url: str, headers: dict[str, str], seconds: float = 120
) -> tuple[dict[str, Any], list[str]]:
    """Poll until complete; returns the manifest and the X-Progress values seen on the way."""
    progress: list[str] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        answer = await http.get(status_url, headers=headers)
        if answer.status_code != 202:
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("application/json")
            assert "expires" in answer.headers
            manifest: dict[str, Any] = answer.json()
            return manifest, progress
        assert answer.headers["Retry-After"].isdigit()
        progress.append(answer.headers["X-Progress"])
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"export not done in {seconds} s: {progress[-1:]}")
        await asyncio.sleep(0.05)


async def download(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = await http.get(url, headers={**headers, "Accept": "application/fhir+ndjson"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+ndjson")
    lines = answer.text.splitlines()
    assert lines and all(lines), "NDJSON: one resource per line, no blank lines"
    return [json.loads(line, parse_float=Decimal) for line in lines]  # decimals exactly as written


async def exported(
    http: httpx.AsyncClient, manifest: dict[str, Any], headers: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """Every output file's resources by type; checks each file's count and that no type repeats an id."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        resources = await download(http, output["url"], headers)
        assert len(resources) == output["count"]
        assert {r["resourceType"] for r in resources} == {output["type"]}
        by_type.setdefault(output["type"], []).extend(resources)
    for resource_type, resources in by_type.items():
        repeated = [i for i, n in Counter(r["id"] for r in resources).items() if n > 1]
        assert not repeated, f"{resource_type} ids exported twice: {repeated[:3]}"
    return by_type


def ids(resources: Iterable[dict[str, Any]]) -> set[str]:
    return {resource["id"] for resource in resources}


async def search_ids(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], params: list[tuple[str, str]] | None = None
) -> set[str]:
    """Ids of every match of a search, following next links."""
    found: set[str] = set()
    url: str | None = path
    query: httpx.QueryParams | None = httpx.QueryParams([*(params or []), ("_count", "500")])
    while url is not None:
        answer = await http.get(url, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        bundle = answer.json()
        found |= {
            e["resource"]["id"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"
        }
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        query = None
    return found
