"""A SearchParameter posted to the server becomes searchable: new data at once, old data after $reindex."""

from __future__ import annotations

import httpx

from tests.support import unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def nickname_parameter(code: str) -> dict[str, object]:
    return {
        "resourceType": "SearchParameter",
        "url": f"http://clinic.example.org/fhir/SearchParameter/{code}",
        "name": code,
        "status": "active",
        "description": "Patient nickname",
        "code": code,
        "base": ["Patient"],
        "type": "string",
        "expression": "Patient.name.where(use='nickname').given",
    }


def patient(nickname: str) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"use": "nickname", "given": [nickname]}]}


async def test_posted_search_parameter_searches_new_and_reindexed_data(client: httpx.AsyncClient) -> None:
    code = unique("nick").replace("-", "")
    nickname = unique("Bunny")
    before = (await client.post("/Patient", json=patient(nickname), headers=FHIR_JSON)).json()
    assert (await client.get("/Patient", params={code: nickname})).status_code == 400  # unknown yet

    created = await client.post("/SearchParameter", json=nickname_parameter(code), headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    after = (await client.post("/Patient", json=patient(nickname), headers=FHIR_JSON)).json()
    found = (await client.get("/Patient", params={code: nickname})).json()
    assert [entry["resource"]["id"] for entry in found["entry"]] == [after["id"]]

    reindexed = await client.post("/Patient/$reindex", json={"resourceType": "Parameters"}, headers=FHIR_JSON)
    assert reindexed.status_code == 200, reindexed.text
    found = (await client.get("/Patient", params={code: nickname.lower()})).json()
    assert {entry["resource"]["id"] for entry in found["entry"]} == {before["id"], after["id"]}


async def test_unusable_search_parameter_is_refused(client: httpx.AsyncClient) -> None:
    broken = {**nickname_parameter(unique("bad").replace("-", "")), "type": "quantum"}
    response = await client.post("/SearchParameter", json=broken, headers=FHIR_JSON)
    assert response.status_code in {400, 422}
    assert response.json()["resourceType"] == "OperationOutcome"
