"""Every interaction the REST API serves works as a batch entry and answers like its REST twin:
``$validate``, ``_history``, compartment search, conditional update, metadata."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}


async def _batch(client: httpx.AsyncClient, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await client.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": list(entries)})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["type"] == "batch-response"
    return list(body["entry"])


def _request(method: str, url: str, resource: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": method, "url": url}}
    if resource is not None:
        entry["resource"] = resource
    return entry


def _status(entry: dict[str, Any]) -> int:
    return int(entry["response"]["status"].split(" ", 1)[0])


async def _patient(client: httpx.AsyncClient) -> dict[str, Any]:
    family = unique("Batchlike")
    body = {"resourceType": "Patient", "name": [{"family": family}], "gender": "female"}
    created: dict[str, Any] = (await client.post("/Patient", json=body, headers=FHIR_JSON)).json()
    return created


async def test_validate_in_a_batch_answers_like_rest(client: httpx.AsyncClient) -> None:
    invalid = {"resourceType": "Patient", "gender": 42}
    rest = await client.post("/Patient/$validate", json=invalid, headers=FHIR_JSON)
    [entry] = await _batch(client, _request("POST", "Patient/$validate", invalid))
    assert _status(entry) == rest.status_code
    assert entry["resource"]["resourceType"] == "OperationOutcome"
    assert [i["severity"] for i in entry["resource"]["issue"]] == [
        i["severity"] for i in rest.json()["issue"]
    ]
    assert any(i["severity"] == "error" for i in entry["resource"]["issue"])


async def test_history_in_a_batch_answers_like_rest(client: httpx.AsyncClient) -> None:
    patient = await _patient(client)
    await client.put(f"/Patient/{patient['id']}", json={**patient, "gender": "male"}, headers=FHIR_JSON)
    rest = (await client.get(f"/Patient/{patient['id']}/_history")).json()
    [entry] = await _batch(client, _request("GET", f"Patient/{patient['id']}/_history"))
    assert _status(entry) == 200
    versions = [e["resource"]["meta"]["versionId"] for e in entry["resource"]["entry"]]
    assert versions == [e["resource"]["meta"]["versionId"] for e in rest["entry"]] == ["2", "1"]


async def test_compartment_search_in_a_batch_answers_like_rest(client: httpx.AsyncClient) -> None:
    patient = await _patient(client)
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": f"Patient/{patient['id']}"},
    }
    created = (await client.post("/Observation", json=observation, headers=FHIR_JSON)).json()
    rest = (await client.get(f"/Patient/{patient['id']}/Observation")).json()
    [entry] = await _batch(client, _request("GET", f"Patient/{patient['id']}/Observation"))
    ids = [e["resource"]["id"] for e in entry["resource"]["entry"]]
    assert ids == [e["resource"]["id"] for e in rest["entry"]] == [created["id"]]


async def test_conditional_update_in_a_batch_answers_like_rest(client: httpx.AsyncClient) -> None:
    patient = await _patient(client)
    family = patient["name"][0]["family"]
    changed = {**{k: v for k, v in patient.items() if k not in {"id", "meta"}}, "gender": "other"}
    [entry] = await _batch(client, _request("PUT", f"Patient?family={family}", changed))
    assert _status(entry) == 200
    assert entry["response"]["etag"] == 'W/"2"'
    assert entry["response"]["location"].startswith(f"Patient/{patient['id']}/_history/2")
    assert entry["resource"]["gender"] == "other"
    again = {**changed, "gender": "unknown"}
    rest = await client.put("/Patient", params={"family": family}, json=again, headers=FHIR_JSON)
    assert rest.status_code == 200
    assert rest.headers["ETag"] == 'W/"3"'


async def test_conditional_create_in_a_batch_makes_one_resource(client: httpx.AsyncClient) -> None:
    identifier = unique("mrn")
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": identifier}]}
    entry = _request("POST", "Patient", body)
    entry["request"]["ifNoneExist"] = f"identifier=urn:test|{identifier}"
    first, second = await _batch(client, entry, entry)
    assert sorted([_status(first), _status(second)]) == [200, 201]
    found = (await client.get("/Patient", params={"identifier": identifier})).json()
    assert len(found["entry"]) == 1


async def test_metadata_and_operations_in_a_batch(client: httpx.AsyncClient) -> None:
    metadata, expand = await _batch(
        client,
        _request("GET", "metadata"),
        _request("GET", "ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender"),
    )
    assert metadata["resource"]["resourceType"] == "CapabilityStatement"
    assert _status(expand) == 200
    codes = {c["code"] for c in expand["resource"]["expansion"]["contains"]}
    assert {"male", "female"} <= codes


async def test_a_nested_bundle_entry_is_refused_by_name(client: httpx.AsyncClient) -> None:
    inner = {"resourceType": "Bundle", "type": "batch", "entry": []}
    answer = await client.post(
        "/", json={"resourceType": "Bundle", "type": "batch", "entry": [_request("POST", "", inner)]}
    )
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"][0] == "Bundle.entry[0].request"
