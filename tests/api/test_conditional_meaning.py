"""Conditional writes serialise on meaning, not spelling; identifier systems declared unique stay
unique under concurrency, on every path."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support import unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}
MRN = "http://clinic.example.org/fhir/sid/mrn"  # unique by default (FHIR_UNIQUE_IDENTIFIERS)
OTHER = "urn:test:not-unique"


def _patient(system: str, value: str, family: str = "Race") -> dict[str, Any]:
    """A Patient (one with the clinic's MRN is a clinic patient: it has what that profile needs)."""
    return {
        "resourceType": "Patient",
        "name": [{"family": family}],
        "gender": "female",
        "identifier": [{"system": system, "value": value}],
    }


async def _count(client: httpx.AsyncClient, system: str, value: str) -> int:
    found = await client.get("/Patient", params={"identifier": f"{system}|{value}", "_total": "accurate"})
    total: int = found.json()["total"]
    return total


@pytest.mark.parametrize("round_", range(3))
async def test_mixed_spellings_of_one_condition_create_one_resource(
    client: httpx.AsyncClient, round_: int
) -> None:
    value = unique("x")
    spellings = [
        f"identifier={OTHER}|{value}",
        f"identifier={value}",
        f"identifier={OTHER.replace(':', '%3A')}%7C{value}",
        f"_id:not=nothing&identifier={value}",
        f"identifier={value}&_id:not=nothing",
    ]
    body = _patient(OTHER, value)

    async def attempt(n: int) -> httpx.Response:
        spelling = spellings[n % len(spellings)]
        if n % 2:  # the query-string form fhirpy sends, beside the header
            return await client.post(f"/Patient?{spelling}", json=body, headers=FHIR_JSON)
        return await client.post("/Patient", json=body, headers={**FHIR_JSON, "If-None-Exist": spelling})

    responses = await asyncio.gather(*(attempt(n) for n in range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(200) == 19, statuses
    assert await _count(client, OTHER, value) == 1


async def test_racing_conditional_updates_of_different_spellings_make_one(client: httpx.AsyncClient) -> None:
    value = unique("u")
    body = _patient(OTHER, value)
    conditions = [f"identifier={OTHER}|{value}", f"identifier={value}"] * 5
    responses = await asyncio.gather(
        *(client.put(f"/Patient?{condition}", json=body, headers=FHIR_JSON) for condition in conditions)
    )
    assert all(response.status_code in (200, 201) for response in responses), [r.text for r in responses]
    assert [response.status_code for response in responses].count(201) == 1
    assert await _count(client, OTHER, value) == 1


async def test_twenty_concurrent_creates_of_one_mrn_store_one(client: httpx.AsyncClient) -> None:
    mrn = unique("mrn")
    responses = await asyncio.gather(
        *(client.post("/Patient", json=_patient(MRN, mrn, f"Twin{n}"), headers=FHIR_JSON) for n in range(20))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 19, statuses
    refused = next(response for response in responses if response.status_code == 409).json()
    assert refused["issue"][0]["expression"] == ["Patient.identifier"]
    assert mrn not in refused["issue"][0]["diagnostics"]  # the value itself is not echoed
    assert await _count(client, MRN, mrn) == 1


async def test_an_mrn_cannot_be_taken_by_update_patch_or_transaction(client: httpx.AsyncClient) -> None:
    mrn = unique("mrn")
    holder = (await client.post("/Patient", json=_patient(MRN, mrn), headers=FHIR_JSON)).json()
    other = (await client.post("/Patient", json=_patient(MRN, unique("mrn")), headers=FHIR_JSON)).json()
    taken = {**other, "identifier": [{"system": MRN, "value": mrn}]}
    assert (await client.put(f"/Patient/{other['id']}", json=taken, headers=FHIR_JSON)).status_code == 409
    patch = [{"op": "replace", "path": "/identifier/0/value", "value": mrn}]
    patched = await client.patch(
        f"/Patient/{other['id']}", json=patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert patched.status_code == 409
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "POST", "url": "Patient"}, "resource": _patient(MRN, mrn)}],
    }
    assert (await client.post("/", json=bundle, headers=FHIR_JSON)).status_code == 409
    # The holder itself may be updated, and the MRN moves once its holder lets it go.
    assert (
        await client.put(f"/Patient/{holder['id']}", json={**holder, "gender": "female"}, headers=FHIR_JSON)
    ).status_code == 200
    assert (await client.delete(f"/Patient/{holder['id']}")).status_code == 204
    assert (await client.put(f"/Patient/{other['id']}", json=taken, headers=FHIR_JSON)).status_code == 200
    assert await _count(client, MRN, mrn) == 1


async def test_the_same_identifier_in_a_non_unique_system_is_allowed(client: httpx.AsyncClient) -> None:
    value = unique("shared")
    for _ in range(2):
        assert (
            await client.post("/Patient", json=_patient(OTHER, value), headers=FHIR_JSON)
        ).status_code == 201
    assert await _count(client, OTHER, value) == 2
