"""Instance, type and system history with _since, _at, _count and paging."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import AppFactory
from tests.support import client_for

FHIR_JSON = {"Content-Type": "application/fhir+json"}


async def test_history_levels_and_paging(app_factory: AppFactory) -> None:
    app = await app_factory()
    async with client_for(app) as client:
        ids = []
        for n in range(3):
            created = await client.post(
                "/Patient", json={"resourceType": "Patient", "gender": "male"}, headers=FHIR_JSON
            )
            ids.append(created.json()["id"])
            body = {**created.json(), "birthDate": f"200{n}-01-01"}
            await client.put(f"/Patient/{ids[-1]}", json=body, headers=FHIR_JSON)
        await client.post(
            "/Observation",
            json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
            headers=FHIR_JSON,
        )

        type_history = (await client.get("/Patient/_history")).json()
        assert type_history["type"] == "history"
        assert len(type_history["entry"]) == 6
        # The server publishes its conformance resources at start-up: look at what came after.
        first = (await client.get(f"/Patient/{ids[0]}/_history/1")).json()["meta"]["lastUpdated"]
        system_history = (await client.get("/_history", params={"_since": first})).json()
        # The audit trail's Provenance of each write is part of the system's history too.
        ours = [e for e in system_history["entry"] if e["resource"]["resourceType"] != "Provenance"]
        assert len(ours) == 7
        assert ours[0]["resource"]["resourceType"] == "Observation"  # newest first

        seen: list[str] = []
        url: str | None = "/Patient/_history?_count=4"
        while url:
            page = (await client.get(url)).json()
            seen += [f"{e['resource']['id']}/{e['resource']['meta']['versionId']}" for e in page["entry"]]
            url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        assert len(seen) == 6 and len(set(seen)) == 6

        instance = (await client.get(f"/Patient/{ids[0]}/_history")).json()
        assert [e["resource"]["meta"]["versionId"] for e in instance["entry"]] == ["2", "1"]
        assert instance["entry"][0]["request"] == {"method": "PUT", "url": f"Patient/{ids[0]}"}


async def test_since_and_at(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)).json()
    url = f"/Patient/{created['id']}"
    await asyncio.sleep(0.01)
    second = (await client.put(url, json={**created, "active": True}, headers=FHIR_JSON)).json()
    since = (await client.get(f"{url}/_history", params={"_since": second["meta"]["lastUpdated"]})).json()
    assert [e["resource"]["meta"]["versionId"] for e in since["entry"]] == ["2"]
    at_first = (await client.get(f"{url}/_history", params={"_at": created["meta"]["lastUpdated"]})).json()
    assert [e["resource"]["meta"]["versionId"] for e in at_first["entry"]] == ["1"]
    bad = await client.get(f"{url}/_history", params={"_since": "yesterday"})
    assert bad.status_code == 400
    unknown = await client.get(f"{url}/_history", params={"_foo": "1"})
    assert unknown.status_code == 400
    assert (await client.get("/Patient/never-was/_history")).status_code == 404
