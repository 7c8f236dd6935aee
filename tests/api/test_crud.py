"""Create, read, vread, update, delete through the real app and a real MongoDB wire server."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "http://clinic.example.org/mrn", "value": unique("mrn")}],
        "name": [{"family": "Chalmers", "given": ["Peter"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
        **extra,
    }


async def create(client: httpx.AsyncClient, resource: dict[str, Any]) -> httpx.Response:
    response = await client.post(f"/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return response


async def test_create_assigns_id_version_and_headers(client: httpx.AsyncClient) -> None:
    response = await create(client, {**patient(), "id": "client-chosen"})
    body = response.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"] == f"http://testserver/fhir/Patient/{body['id']}/_history/1"
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert "Last-Modified" in response.headers


async def test_read_returns_stored_resource(client: httpx.AsyncClient) -> None:
    created = (await create(client, patient())).json()
    response = await client.get(f"/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == 'W/"1"'


async def test_read_unknown_id_and_unknown_type(client: httpx.AsyncClient) -> None:
    missing = await client.get("/Patient/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert missing.json()["issue"][0]["code"] == "not-found"
    unknown_type = await client.get("/Spaceship/1")
    assert unknown_type.status_code == 404
    assert "Spaceship" in unknown_type.json()["issue"][0]["diagnostics"]


async def test_update_creates_new_version_and_vread_sees_both(client: httpx.AsyncClient) -> None:
    created = (await create(client, patient())).json()
    changed = {**created, "gender": "female"}
    response = await client.put(f"/Patient/{created['id']}", json=changed, headers=FHIR_JSON)
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    assert response.headers["ETag"] == 'W/"2"'
    first = await client.get(f"/Patient/{created['id']}/_history/1")
    second = await client.get(f"/Patient/{created['id']}/_history/2")
    assert first.json()["gender"] == "male"
    assert second.json()["gender"] == "female"
    assert (await client.get(f"/Patient/{created['id']}/_history/3")).status_code == 404


async def test_update_with_client_id_creates(client: httpx.AsyncClient) -> None:
    resource_id = unique("pat")
    response = await client.put(
        f"/Patient/{resource_id}", json={**patient(), "id": resource_id}, headers=FHIR_JSON
    )
    assert response.status_code == 201
    assert response.json()["id"] == resource_id
    assert response.json()["meta"]["versionId"] == "1"


async def test_update_without_change_keeps_version(client: httpx.AsyncClient) -> None:
    created = (await create(client, patient())).json()
    again = await client.put(
        f"/Patient/{created['id']}",
        json=created,
        headers={**FHIR_JSON, "Prefer": "return=OperationOutcome"},
    )
    assert again.status_code == 200
    assert again.headers["ETag"] == 'W/"1"'
    assert "no change" in again.json()["issue"][0]["diagnostics"]
    history = (await client.get(f"/Patient/{created['id']}/_history")).json()
    assert len(history["entry"]) == 1


async def test_if_match_mismatch_is_412_and_match_succeeds(client: httpx.AsyncClient) -> None:
    created = (await create(client, patient())).json()
    url = f"/Patient/{created['id']}"
    stale = await client.put(
        url, json={**created, "active": True}, headers={**FHIR_JSON, "If-Match": 'W/"7"'}
    )
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    fresh = await client.put(
        url, json={**created, "active": True}, headers={**FHIR_JSON, "If-Match": 'W/"1"'}
    )
    assert fresh.status_code == 200
    assert fresh.json()["meta"]["versionId"] == "2"
    garbage = await client.put(url, json=created, headers={**FHIR_JSON, "If-Match": "yesterday"})
    assert garbage.status_code == 400


async def test_delete_then_read_is_gone_and_history_keeps_it(client: httpx.AsyncClient) -> None:
    created = (await create(client, patient())).json()
    url = f"/Patient/{created['id']}"
    deleted = await client.delete(url)
    assert deleted.status_code == 204
    gone = await client.get(url)
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    history = (await client.get(f"{url}/_history")).json()
    methods = [entry["request"]["method"] for entry in history["entry"]]
    assert methods == ["DELETE", "POST"]
    assert "resource" not in history["entry"][0]
    assert (await client.get(f"{url}/_history/1")).status_code == 200
    assert (await client.delete(url)).status_code == 204  # deleting again is idempotent
    revived = await client.put(url, json=created, headers=FHIR_JSON)
    assert revived.status_code == 201  # re-creating a deleted resource is a creation
    assert revived.json()["meta"]["versionId"] == "3"


async def test_delete_of_referenced_resource_is_refused(client: httpx.AsyncClient) -> None:
    subject = (await create(client, patient())).json()
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": f"Patient/{subject['id']}"},
    }
    referrer = (await create(client, observation)).json()
    refused = await client.delete(f"/Patient/{subject['id']}")
    assert refused.status_code == 409
    assert f"Observation/{referrer['id']}" in refused.json()["issue"][0]["diagnostics"]
    assert (await client.get(f"/Patient/{subject['id']}")).status_code == 200
    assert (await client.delete(f"/Observation/{referrer['id']}")).status_code == 204
    assert (await client.delete(f"/Patient/{subject['id']}")).status_code == 204


async def test_prefer_return_minimal_and_operation_outcome(client: httpx.AsyncClient) -> None:
    minimal = await client.post("/Patient", json=patient(), headers={**FHIR_JSON, "Prefer": "return=minimal"})
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal.headers["Location"].startswith("http://testserver/fhir/Patient/")
    outcome = await client.post(
        "/Patient", json=patient(), headers={**FHIR_JSON, "Prefer": "return=OperationOutcome"}
    )
    assert outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.json()["issue"][0]["severity"] == "information"


async def test_conditional_read_not_modified(client: httpx.AsyncClient) -> None:
    created = await create(client, patient())
    url = f"/Patient/{created.json()['id']}"
    same = await client.get(url, headers={"If-None-Match": 'W/"1"'})
    assert same.status_code == 304
    other = await client.get(url, headers={"If-None-Match": 'W/"2"'})
    assert other.status_code == 200
    later = await client.get(url, headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert later.status_code == 304
    earlier = await client.get(url, headers={"If-Modified-Since": "Fri, 01 Jan 2000 00:00:00 GMT"})
    assert earlier.status_code == 200


async def test_pretty_and_format(client: httpx.AsyncClient) -> None:
    created = (await create(client, patient())).json()
    pretty = await client.get(f"/Patient/{created['id']}?_pretty=true")
    assert b'\n  "resourceType"' in pretty.content
    plain_json = await client.get(f"/Patient/{created['id']}?_format=application/json")
    assert plain_json.headers["Content-Type"].startswith("application/json")
    xml = await client.get(f"/Patient/{created['id']}?_format=xml")
    assert xml.status_code == 406
    accept_xml = await client.get(f"/Patient/{created['id']}", headers={"Accept": "application/fhir+xml"})
    assert accept_xml.status_code == 406
    accept_any = await client.get(f"/Patient/{created['id']}", headers={"Accept": "*/*"})
    assert accept_any.status_code == 200


async def test_summary_and_elements_on_read(client: httpx.AsyncClient) -> None:
    created = (
        await create(
            client,
            patient(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}),
        )
    ).json()
    elements = (await client.get(f"/Patient/{created['id']}?_elements=gender")).json()
    assert elements["gender"] == "male"
    assert "name" not in elements and "birthDate" not in elements
    assert elements["id"] == created["id"]
    assert any(tag.get("code") == "SUBSETTED" for tag in elements["meta"].get("tag", []))
    summary = (await client.get(f"/Patient/{created['id']}?_summary=true")).json()
    assert "text" not in summary and summary["name"] == created["name"]
    assert (await client.get(f"/Patient/{created['id']}?_summary=bogus")).status_code == 400


async def test_unknown_read_parameter_is_refused_unless_lenient(client: httpx.AsyncClient) -> None:
    created = (await create(client, patient())).json()
    strict = await client.get(f"/Patient/{created['id']}?foo=bar")
    assert strict.status_code == 400
    assert strict.json()["issue"][0]["expression"] == ["foo"]
    lenient = await client.get(f"/Patient/{created['id']}?foo=bar", headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
