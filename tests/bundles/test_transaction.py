"""Transactions: all or nothing, processing order, references between entries, Prefer."""

from __future__ import annotations

import base64

import httpx
import orjson

from tests.bundles.builders import (
    MRN,
    create,
    patient,
    post,
    put,
    reference_of,
    request,
    search_ids,
    send,
    statuses,
    transaction,
    urn,
)
from tests.support import TEST_BASE, unique

EXTENSION = "http://example.org/fhir/StructureDefinition/who"


async def test_entries_are_created_and_linked(client: httpx.AsyncClient) -> None:
    patient_url, encounter_url = urn(), urn()
    body = transaction(
        post({"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
              "subject": {"reference": patient_url}, "encounter": {"reference": encounter_url}}),
        post({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
              "subject": {"reference": patient_url}}, encounter_url),
        post(patient(), patient_url),
    )  # fmt: skip
    response = await send(client, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["resourceType"] == "Bundle"
    assert result["type"] == "transaction-response"
    assert statuses(response) == ["201 Created"] * 3
    observation_ref, encounter_ref, patient_ref = (reference_of(entry) for entry in result["entry"])
    for entry in result["entry"]:
        assert entry["response"]["location"].endswith("/_history/1")
        assert entry["response"]["etag"] == 'W/"1"'
        assert entry["response"]["lastModified"].endswith("Z")
    observation = (await client.get(f"/{observation_ref}")).json()
    assert observation["subject"]["reference"] == patient_ref
    assert observation["encounter"]["reference"] == encounter_ref
    encounter = (await client.get(f"/{encounter_ref}")).json()
    assert encounter["subject"]["reference"] == patient_ref


async def test_references_are_rewritten_in_contained_extensions_and_narrative(
    client: httpx.AsyncClient,
) -> None:
    patient_url = urn()
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><a href="{patient_url}">patient</a>'
            f'<img src="{patient_url}" alt="photo"/> <a href="http://example.org/x">other</a></div>',
        },
        "contained": [{"resourceType": "Device", "id": "scale", "patient": {"reference": patient_url}}],
        "extension": [{"url": EXTENSION, "valueReference": {"reference": patient_url}}],
        "subject": {"reference": patient_url},
        "device": {"reference": "#scale"},
    }
    response = await send(client, transaction(post(observation), post(patient(), patient_url)))
    assert response.status_code == 200, response.text
    observation_ref, patient_ref = (reference_of(entry) for entry in response.json()["entry"])
    stored = (await client.get(f"/{observation_ref}")).json()
    assert stored["contained"][0]["patient"]["reference"] == patient_ref
    assert stored["extension"][0]["valueReference"]["reference"] == patient_ref
    assert stored["subject"]["reference"] == patient_ref
    assert stored["device"]["reference"] == "#scale"
    assert f'href="{patient_ref}"' in stored["text"]["div"]
    assert f'src="{patient_ref}"' in stored["text"]["div"]
    assert "http://example.org/x" in stored["text"]["div"]
    assert "urn:uuid" not in orjson.dumps(stored).decode()


async def test_a_failing_last_entry_leaves_nothing_written(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    patient_url, bad_url = urn(), urn()
    body = transaction(
        post(patient(value), patient_url),
        post({"resourceType": "Observation", "status": "final",
              "code": {"coding": [{"system": "http://example.org/codes", "code": value}]},
              "subject": {"reference": patient_url}}),
        post({"resourceType": "Patient", "birthDate": "not-a-date"}, bad_url),
    )  # fmt: skip
    response = await send(client, body)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert "entry 2" in issue["diagnostics"] and bad_url in issue["diagnostics"]
    assert issue["expression"][0] == "Bundle.entry[2]"
    assert any(e.startswith("Bundle.entry[2].resource.birthDate") for e in issue["expression"])
    assert await search_ids(client, f"Patient?identifier={MRN}|{value}") == []
    assert await search_ids(client, f"Observation?code=http://example.org/codes|{value}") == []


async def test_the_failing_entry_decides_the_status(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    existing = await create(client, patient())
    body = transaction(
        post(patient(value)),
        request("GET", f"Patient/{existing['id']}"),
        put({**existing, "gender": "other"}, f"Patient/{existing['id']}", if_match='W/"7"'),
    )
    response = await send(client, body)
    assert response.status_code == 412
    issue = response.json()["issue"][0]
    assert issue["expression"][0] == "Bundle.entry[2]"
    assert await search_ids(client, f"Patient?identifier={MRN}|{value}") == []
    assert "gender" not in (await client.get(f"/Patient/{existing['id']}")).json()

    missing = await send(client, transaction(post(patient(value)), request("GET", "Patient/no-such-id")))
    assert missing.status_code == 404
    assert missing.json()["issue"][0]["expression"][0] == "Bundle.entry[1]"
    assert await search_ids(client, f"Patient?identifier={MRN}|{value}") == []


async def test_processing_order_is_delete_post_put_get(client: httpx.AsyncClient) -> None:
    old_value, new_value = unique("old"), unique("new")
    old = await create(client, patient(old_value))
    kept = await create(client, patient())
    body = transaction(
        request("GET", f"Patient?identifier={MRN}|{new_value}"),
        put({**kept, "gender": "female"}, f"Patient/{kept['id']}"),
        post(patient(old_value), if_none_exist=f"identifier={MRN}|{old_value}"),
        post(patient(new_value)),
        request("DELETE", f"Patient?identifier={MRN}|{old_value}"),
        request("GET", f"Patient/{kept['id']}"),
    )
    response = await send(client, body)
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert statuses(response) == [
        "200 OK",
        "200 OK",
        "201 Created",
        "201 Created",
        "204 No Content",
        "200 OK",
    ]
    # The search ran after the POSTs, the conditional create after the DELETE, the read after the PUT.
    found = [entry["resource"]["id"] for entry in entries[0]["resource"]["entry"]]
    assert found == [reference_of(entries[3]).split("/")[1]]
    assert reference_of(entries[2]) != f"Patient/{old['id']}"
    assert entries[5]["resource"]["gender"] == "female"
    assert (await client.get(f"/Patient/{old['id']}")).status_code == 410


async def test_get_entries_see_the_transactions_own_writes(client: httpx.AsyncClient) -> None:
    own_id = unique("own")
    body = transaction(
        request("GET", f"Patient/{own_id}"),
        request("GET", f"Patient/{own_id}/_history/1"),
        request("HEAD", f"Patient/{own_id}"),
        put({"resourceType": "Patient", "id": own_id, "gender": "male"}, f"Patient/{own_id}"),
    )
    response = await send(client, body)
    assert response.status_code == 200, response.text
    read, vread, head, written = response.json()["entry"]
    assert read["resource"]["gender"] == "male"
    assert vread["resource"]["meta"]["versionId"] == "1"
    assert head["response"]["status"] == "200 OK" and "resource" not in head
    assert written["response"]["status"] == "201 Created"


async def test_conditional_read_in_an_entry(client: httpx.AsyncClient) -> None:
    existing = await create(client, patient())
    body = transaction(
        request("GET", f"Patient/{existing['id']}", ifNoneMatch='W/"1"'),
        request("GET", f"Patient/{existing['id']}", ifNoneMatch='W/"0"'),
    )
    response = await send(client, body)
    assert statuses(response) == ["304 Not Modified", "200 OK"]


async def test_prefer_return_variants(client: httpx.AsyncClient) -> None:
    def body() -> dict[str, object]:
        return transaction(post(patient()))

    default = (await send(client, body())).json()["entry"][0]
    assert default["resource"]["resourceType"] == "Patient"
    assert default["fullUrl"] == f"{TEST_BASE}/{reference_of(default)}"
    minimal = (await send(client, body(), Prefer="return=minimal")).json()["entry"][0]
    assert "resource" not in minimal
    assert minimal["response"]["location"].startswith("Patient/")
    outcome = (await send(client, body(), Prefer="return=OperationOutcome")).json()["entry"][0]
    assert "resource" not in outcome
    assert outcome["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert "created" in outcome["response"]["outcome"]["issue"][0]["diagnostics"]


async def test_put_entries_with_absolute_full_urls_of_this_server(client: httpx.AsyncClient) -> None:
    own_id = unique("abs")
    full_url = f"{TEST_BASE}/Patient/{own_id}"
    body = transaction(
        post({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "subject": {"reference": full_url}}),
        put({"resourceType": "Patient", "id": own_id}, f"Patient/{own_id}", full_url),
    )  # fmt: skip
    response = await send(client, body)
    assert response.status_code == 200, response.text
    observation = (await client.get(f"/{reference_of(response.json()['entry'][0])}")).json()
    assert observation["subject"]["reference"] == f"Patient/{own_id}"


def _json_patch(operations: list[dict[str, object]]) -> dict[str, object]:
    return {
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64.b64encode(orjson.dumps(operations)).decode(),
    }


def _fhirpath_add(name: str, value: dict[str, object]) -> dict[str, object]:
    parts = [{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"},
             {"name": "name", "valueString": name}, {"name": "value", **value}]  # fmt: skip
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]}


def _patch(document: dict[str, object], url: str) -> dict[str, object]:
    return {"resource": document, "request": {"method": "PATCH", "url": url}}


async def test_patch_entries(client: httpx.AsyncClient) -> None:
    first, second = await create(client, patient()), await create(client, patient())
    add_gender = _patch(
        _json_patch([{"op": "add", "path": "/gender", "value": "female"}]), f"Patient/{first['id']}"
    )
    add_birth_date = _fhirpath_add("birthDate", {"valueDate": "1990-01-02"})

    unmatched = transaction(add_gender, _patch(add_birth_date, f"Patient?identifier={MRN}|{unique()}"))
    failed = await send(client, unmatched)
    assert failed.status_code == 412  # the conditional patch matched nothing: nothing is patched
    assert "gender" not in (await client.get(f"/Patient/{first['id']}")).json()

    second_value = second["identifier"][0]["value"]
    matched = transaction(add_gender, _patch(add_birth_date, f"Patient?identifier={MRN}|{second_value}"))
    response = await send(client, matched)
    assert response.status_code == 200, response.text
    assert statuses(response) == ["200 OK", "200 OK"]
    assert (await client.get(f"/Patient/{first['id']}")).json()["gender"] == "female"
    assert (await client.get(f"/Patient/{second['id']}")).json()["birthDate"] == "1990-01-02"


async def test_a_resource_is_written_once_per_transaction(client: httpx.AsyncClient) -> None:
    existing = await create(client, patient())
    url = f"Patient/{existing['id']}"
    response = await send(client, transaction(put(existing, url), request("DELETE", url)))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"][0] == "Bundle.entry[1].request.url"


async def test_unresolvable_placeholder_reference_fails(client: httpx.AsyncClient) -> None:
    dangling = urn()
    body = transaction(
        post({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "subject": {"reference": dangling}}, urn()),
    )  # fmt: skip
    response = await send(client, body)
    assert response.status_code == 400
    assert dangling in response.json()["issue"][0]["diagnostics"]
    assert response.json()["issue"][0]["expression"][0] == "Bundle.entry[0]"
