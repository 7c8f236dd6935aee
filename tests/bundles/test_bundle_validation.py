"""Malformed bundles are refused as a whole (400 naming the entry); limits answer 413."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.bundles.builders import FHIR_JSON, patient, post, request, send, transaction, urn
from tests.conftest import AppFactory
from tests.support import TEST_BASE, client_for


def _entry_without_request() -> dict[str, Any]:
    return transaction(post(patient()), {"resource": patient()})


MALFORMED: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "not a bundle": (lambda: patient(), "resourceType"),
    "a collection": (lambda: {"resourceType": "Bundle", "type": "collection", "entry": []}, "Bundle.type"),
    "entry without request": (_entry_without_request, "Bundle.entry[1].request"),
    "bad method": (lambda: transaction(request("FETCH", "Patient")), "Bundle.entry[0].request.method"),
    "bad url": (lambda: transaction(request("GET", "Patient/1/2/3")), "Bundle.entry[0].request.url"),
    "unknown type": (lambda: transaction(request("GET", "Spaceship/1")), "Bundle.entry[0].request.url"),
    "POST without resource": (lambda: transaction(request("POST", "Patient")), "Bundle.entry[0].resource"),
    "PUT without id or query": (
        lambda: transaction({"resource": patient(), "request": {"method": "PUT", "url": "Patient"}}),
        "Bundle.entry[0].request.url",
    ),
    "foreign absolute url": (
        lambda: transaction(request("GET", "http://elsewhere.example.org/fhir/Patient/1")),
        "Bundle.entry[0].request.url",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_bundles_are_400(client: httpx.AsyncClient, case: str) -> None:
    build, expression = MALFORMED[case]
    response = await send(client, build())
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"][0] == expression


async def test_malformed_batch_writes_nothing(client: httpx.AsyncClient) -> None:
    body = {"resourceType": "Bundle", "type": "batch", "entry": [post(patient()), {"resource": patient()}]}
    response = await send(client, body)
    assert response.status_code == 400
    assert "entry 1" in response.json()["issue"][0]["diagnostics"]


async def test_duplicate_full_urls_in_a_transaction(client: httpx.AsyncClient) -> None:
    shared = urn()
    response = await send(client, transaction(post(patient(), shared), post(patient(), shared)))
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].fullUrl"]
    assert "entry 0" in issue["diagnostics"]  # the value itself is not echoed back


async def test_base_url_with_a_trailing_slash_and_media_types(client: httpx.AsyncClient) -> None:
    slash = await client.post(f"{TEST_BASE}/", json=transaction(), headers=FHIR_JSON)
    assert slash.status_code == 200
    assert slash.json()["type"] == "transaction-response"
    xml = await client.post(TEST_BASE, content=b"<Bundle/>", headers={"Content-Type": "application/fhir+xml"})
    assert xml.status_code == 415


async def test_limits_are_413(app_factory: AppFactory) -> None:
    app: FastAPI = await app_factory(bundle_max_entries=2, bundle_max_bytes=4000)
    async with client_for(app) as client:
        too_many = await send(client, transaction(*(post(patient()) for _ in range(3))))
        assert too_many.status_code == 413
        assert too_many.json()["issue"][0]["code"] == "too-costly"
        big = patient(text={"status": "generated", "div": f"<div>{'x' * 5000}</div>"})
        too_big = await send(client, transaction(post(big)))
        assert too_big.status_code == 413
        fits = await send(client, transaction(post(patient()), post(patient())))
        assert fits.status_code == 200
