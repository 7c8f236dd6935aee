"""Every official R4B example of a type we serve is stored and read back equal (apart from meta)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import AppFactory
from tests.support import client_for

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if key != "meta"}


def examples(shared_dir: Path) -> list[dict[str, Any]]:
    folder = shared_dir / "reference" / "fhir-r4b-examples"
    loaded = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json")) if not path.name.startswith("_")]
    return [resource for resource in loaded if "resourceType" in resource]


async def test_official_examples_round_trip(app_factory: AppFactory, shared_dir: Path) -> None:
    app: FastAPI = await app_factory()
    served = set(app.state.registry.resource_types())
    resources = [resource for resource in examples(shared_dir) if resource["resourceType"] in served]
    assert len(resources) > 250
    async with client_for(app) as client:
        for resource in resources:
            url = f"/fhir/{resource['resourceType']}/{resource['id']}"
            stored = await client.put(url, json=resource, headers=FHIR_JSON)
            assert stored.status_code in {200, 201}, f"{url}: {stored.text[:500]}"
            read: httpx.Response = await client.get(url)
            assert read.status_code == 200, url
            assert without_meta(read.json()) == without_meta(resource), url
