"""Racing writers: conditional creates stay unique, If-Match updates never lose an update."""

from __future__ import annotations

import asyncio

import httpx

from tests.support import unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}


async def test_twenty_concurrent_conditional_creates_leave_one_resource(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": "http://clinic.example.org/mrn", "value": value}],
    }
    headers = {**FHIR_JSON, "If-None-Exist": f"identifier=http://clinic.example.org/mrn|{value}"}
    responses = await asyncio.gather(
        *(client.post("/Patient", json=body, headers=headers) for _ in range(20))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(200) == 19, statuses
    ids = {response.json()["id"] for response in responses}
    assert len(ids) == 1
    found = (await client.get(f"/Patient?identifier={value}&_total=accurate")).json()
    assert found["total"] == 1


async def test_concurrent_if_match_updates_one_wins(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)).json()
    url = f"/Patient/{created['id']}"

    async def attempt(n: int) -> int:
        body = {**created, "name": [{"family": f"writer{n}"}]}
        response = await client.put(url, json=body, headers={**FHIR_JSON, "If-Match": 'W/"1"'})
        return response.status_code

    statuses = await asyncio.gather(*(attempt(n) for n in range(10)))
    assert sorted(statuses).count(200) == 1, statuses
    assert sorted(statuses).count(412) == 9, statuses
    current = (await client.get(url)).json()
    assert current["meta"]["versionId"] == "2"


async def test_concurrent_plain_updates_lose_nothing(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)).json()
    url = f"/Patient/{created['id']}"
    families = [f"writer{n}" for n in range(8)]
    responses = await asyncio.gather(
        *(
            client.put(url, json={**created, "name": [{"family": family}]}, headers=FHIR_JSON)
            for family in families
        )
    )
    assert all(response.status_code == 200 for response in responses)
    versions = sorted(int(response.json()["meta"]["versionId"]) for response in responses)
    assert versions == list(range(2, 10))
    history = (await client.get(f"{url}/_history?_count=50")).json()
    recorded = {
        entry["resource"]["name"][0]["family"] for entry in history["entry"] if "name" in entry["resource"]
    }
    assert recorded == set(families)
