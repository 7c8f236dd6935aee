"""Conditional create, update and delete."""

from __future__ import annotations

import httpx

from tests.support import unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}
MRN = "http://clinic.example.org/mrn"


def patient(value: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "Patient", "identifier": [{"system": MRN, "value": value}], **extra}


async def test_if_none_exist_returns_existing(client: httpx.AsyncClient) -> None:
    value = unique()
    headers = {**FHIR_JSON, "If-None-Exist": f"identifier={MRN}|{value}"}
    first = await client.post("/Patient", json=patient(value), headers=headers)
    second = await client.post("/Patient", json=patient(value, gender="female"), headers=headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert "gender" not in second.json()


async def test_if_none_exist_with_several_matches_is_412(client: httpx.AsyncClient) -> None:
    value = unique()
    for _ in range(2):
        assert (await client.post("/Patient", json=patient(value), headers=FHIR_JSON)).status_code == 201
    response = await client.post(
        "/Patient", json=patient(value), headers={**FHIR_JSON, "If-None-Exist": f"identifier={value}"}
    )
    assert response.status_code == 412


async def test_if_none_exist_with_unknown_parameter_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Patient", json=patient(unique()), headers={**FHIR_JSON, "If-None-Exist": "shoe-size=42"}
    )
    assert response.status_code == 400
    assert "shoe-size" in response.text


async def test_conditional_update_creates_then_updates(client: httpx.AsyncClient) -> None:
    value = unique()
    url = f"/Patient?identifier={MRN}|{value}"
    created = await client.put(url, json=patient(value, gender="male"), headers=FHIR_JSON)
    assert created.status_code == 201
    updated = await client.put(url, json=patient(value, gender="female"), headers=FHIR_JSON)
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"
    wrong_id = await client.put(url, json=patient(value, id="someone-else"), headers=FHIR_JSON)
    assert wrong_id.status_code == 400


async def test_conditional_update_with_several_matches_is_412(client: httpx.AsyncClient) -> None:
    value = unique()
    for _ in range(2):
        await client.post("/Patient", json=patient(value), headers=FHIR_JSON)
    response = await client.put(f"/Patient?identifier={value}", json=patient(value), headers=FHIR_JSON)
    assert response.status_code == 412


async def test_conditional_delete(client: httpx.AsyncClient) -> None:
    value = unique()
    created = (await client.post("/Patient", json=patient(value), headers=FHIR_JSON)).json()
    response = await client.delete(f"/Patient?identifier={MRN}|{value}")
    assert response.status_code == 204
    assert (await client.get(f"/Patient/{created['id']}")).status_code == 410
    nothing = await client.delete(f"/Patient?identifier={MRN}|{unique()}")
    assert nothing.status_code == 204
    no_condition = await client.delete("/Patient")
    assert no_condition.status_code == 400
