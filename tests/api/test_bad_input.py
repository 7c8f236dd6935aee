"""Bad input never reaches a 500: non-ASCII digits, deep nesting, deep patch paths, slow bodies,
and every route the API documents is served (``POST [base]/_search``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import AppFactory
from tests.support import client_for

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _nested_extensions(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for level in range(depth):
        extension = {"url": f"http://example.org/level{level}", "extension": [extension]}
    return extension


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1\u00b2", "\U0001d7e1"])  # ², Arabic 3, 1², math 9
async def test_non_ascii_digits_are_400(client: httpx.AsyncClient, value: str) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)).json()
    for path, params in (
        ("/Patient", {"_count": value}),
        (f"/Patient/{created['id']}/_history", {"_count": value}),
    ):
        answer = await client.get(path, params=params)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["resourceType"] == "OperationOutcome"
    vread = await client.get(f"/Patient/{created['id']}/_history/{value}")
    assert vread.status_code == 404
    assert vread.json()["resourceType"] == "OperationOutcome"
    if_match = await client.put(
        f"/Patient/{created['id']}",
        json=created,
        headers=[(b"Content-Type", b"application/fhir+json"), (b"If-Match", f'W/"{value}"'.encode())],
    )
    assert if_match.status_code == 400


async def test_deeply_nested_body_is_400_also_in_a_transaction(client: httpx.AsyncClient) -> None:
    patient = {"resourceType": "Patient", "extension": [_nested_extensions(150)]}
    answer = await client.post("/Patient", json=patient, headers=FHIR_JSON)
    assert answer.status_code == 400
    assert "nests deeper" in answer.json()["issue"][0]["diagnostics"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "POST", "url": "Patient"}, "resource": patient}],
    }
    in_bundle = await client.post("/", json=bundle, headers=FHIR_JSON)
    assert in_bundle.status_code == 400
    assert (await client.get("/Patient", params={"_count": "0", "_total": "accurate"})).json()["total"] == 0


async def test_moderately_nested_extensions_are_still_accepted(client: httpx.AsyncClient) -> None:
    patient = {"resourceType": "Patient", "extension": [_nested_extensions(20)]}
    answer = await client.post("/Patient", json=patient, headers=FHIR_JSON)
    assert answer.status_code == 201, answer.text


async def test_deep_fhirpath_patch_path_is_400(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)).json()
    path = "Patient" + ".extension" * 400
    patch = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "add"},
                    {"name": "path", "valueString": path},
                    {"name": "name", "valueString": "extension"},
                    {"name": "value", "valueString": "x"},
                ],
            }
        ],
    }
    answer = await client.patch(f"/Patient/{created['id']}", json=patch, headers=FHIR_JSON)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"


async def test_post_search_at_the_base_is_served(client: httpx.AsyncClient) -> None:
    family = "Basesearch"
    await client.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}, headers=FHIR_JSON
    )
    answer = await client.post(
        "/_search",
        content=f"_type=Patient&name={family}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    names = [e["resource"]["name"][0]["family"] for e in answer.json()["entry"]]
    assert names == [family]


async def test_a_stalled_body_is_408(app_factory: AppFactory) -> None:
    app = await app_factory(body_read_timeout=0.5)

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"resourceType": "Pat'
        await asyncio.sleep(2)
        yield b'ient"}'

    async with client_for(app) as http:
        answer = await http.post("/Patient", content=trickle(), headers=FHIR_JSON)
        assert answer.status_code == 408
        assert answer.json()["issue"][0]["code"] == "timeout"
        total = await http.get("/Patient", params={"_count": "0", "_total": "accurate"})
        assert total.json()["total"] == 0
