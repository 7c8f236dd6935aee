"""Every interaction kind leaves an AuditEvent with the right agents, action, entities and outcome,
whether it came over REST or as a bundle entry."""

from __future__ import annotations

from typing import Any

import httpx

from tests.audit.conftest import (
    DOCTOR_USER,
    Audited,
    agent,
    entity_references,
    patient_references,
    queries,
    request_ids,
    subtype,
)

JsonDict = dict[str, Any]


async def _patient(audited: Audited, family: str = "Audit") -> str:
    response = await audited.http.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}, headers=audited.doctor()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _observation(audited: Audited, patient_id: str) -> str:
    response = await audited.http.post(
        "/Observation",
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "pulse"},
            "subject": {"reference": f"Patient/{patient_id}"},
        },
        headers=audited.doctor(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _one_event(audited: Audited, response: httpx.Response) -> JsonDict:
    events = await audited.events_of_request(response.headers["x-request-id"])
    assert len(events) == 1, [subtype(e) for e in events]
    return events[0]


def _check_who(event: JsonDict) -> None:
    user = agent(event, "IRCP")
    assert user["who"]["reference"] == DOCTOR_USER
    assert user["requestor"] is True
    client = agent(event, "110153")
    assert client["who"]["identifier"]["value"]  # the app's client id
    assert client["network"]["address"]  # where the request came from
    assert agent(event, "110152")["who"]["identifier"]["value"] == "http://testserver/fhir"
    assert event["source"]["observer"]["identifier"]["value"] == "http://testserver/fhir"


async def test_create_read_vread_update_patch_delete(audited: Audited) -> None:
    http, doctor = audited.http, audited.doctor()
    created = await http.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"family": "Crud"}]}, headers=doctor
    )
    pid = created.json()["id"]
    event = await _one_event(audited, created)
    assert (subtype(event), event["action"], event["outcome"]) == ("create", "C", "0")
    assert entity_references(event) == [f"Patient/{pid}", f"Patient/{pid}/_history/1"]
    _check_who(event)

    read = await http.get(f"/Patient/{pid}", headers=doctor)
    event = await _one_event(audited, read)
    assert (subtype(event), event["action"], event["outcome"]) == ("read", "R", "0")
    assert patient_references(event) == [f"Patient/{pid}"]
    _check_who(event)

    vread = await http.get(f"/Patient/{pid}/_history/1", headers=doctor)
    event = await _one_event(audited, vread)
    assert (subtype(event), event["action"]) == ("vread", "R")
    assert f"Patient/{pid}/_history/1" in entity_references(event)

    updated = await http.put(
        f"/Patient/{pid}",
        json={"resourceType": "Patient", "id": pid, "name": [{"family": "Crud2"}]},
        headers=doctor,
    )
    event = await _one_event(audited, updated)
    assert (subtype(event), event["action"]) == ("update", "U")
    assert f"Patient/{pid}/_history/2" in entity_references(event)

    patched = await http.patch(
        f"/Patient/{pid}",
        json=[{"op": "replace", "path": "/name/0/family", "value": "Crud3"}],
        headers={**doctor, "Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    event = await _one_event(audited, patched)
    assert (subtype(event), event["action"]) == ("patch", "U")
    assert f"Patient/{pid}/_history/3" in entity_references(event)

    deleted = await http.delete(f"/Patient/{pid}", headers=doctor)
    event = await _one_event(audited, deleted)
    assert (subtype(event), event["action"], event["outcome"]) == ("delete", "D", "0")
    assert f"Patient/{pid}/_history/4" in entity_references(event)
    assert patient_references(event) == [f"Patient/{pid}"]


async def test_a_no_op_update_is_recorded_without_a_new_version(audited: Audited) -> None:
    pid = await _patient(audited)
    current = (await audited.http.get(f"/Patient/{pid}", headers=audited.doctor())).json()
    same = await audited.http.put(f"/Patient/{pid}", json=current, headers=audited.doctor())
    assert same.status_code == 200
    event = await _one_event(audited, same)
    assert (subtype(event), event["action"], event["outcome"]) == ("update", "U", "0")
    assert f"Patient/{pid}/_history/1" in entity_references(event)


async def test_search_names_the_query_and_each_patient_in_its_own_event(audited: Audited) -> None:
    first, second = await _patient(audited, "SearchA"), await _patient(audited, "SearchB")
    obs_first, obs_second = await _observation(audited, first), await _observation(audited, second)
    found = await audited.http.get(
        "/Observation",
        params={"subject": f"Patient/{first},Patient/{second}", "_elements": "code"},
        headers=audited.doctor(),
    )
    assert found.json()["total"] == 2
    events = await audited.events_of_request(found.headers["x-request-id"])
    assert {subtype(e) for e in events} == {"search-type"}
    assert all(e["action"] == "E" for e in events)
    by_patient = {patient_references(e)[0]: e for e in events}
    # _elements cut the subject out of the answer: the patients still come from the stored resources
    assert set(by_patient) == {f"Patient/{first}", f"Patient/{second}"}
    assert f"Observation/{obs_first}/_history/1" in entity_references(by_patient[f"Patient/{first}"])
    assert f"Observation/{obs_second}/_history/1" not in entity_references(by_patient[f"Patient/{first}"])
    for event in events:
        (query,) = queries(event)
        assert query.startswith("GET Observation?subject=")
        _check_who(event)


async def test_a_search_that_finds_nothing_is_recorded(audited: Audited) -> None:
    found = await audited.http.get("/Patient", params={"family": "Nobody-At-All"}, headers=audited.doctor())
    event = await _one_event(audited, found)
    assert subtype(event) == "search-type"
    assert queries(event) == ["GET Patient?family=Nobody-At-All"]


async def test_history_and_operations(audited: Audited) -> None:
    pid = await _patient(audited)
    history = await audited.http.get(f"/Patient/{pid}/_history", headers=audited.doctor())
    event = await _one_event(audited, history)
    assert (subtype(event), event["action"]) == ("history-instance", "R")
    assert patient_references(event) == [f"Patient/{pid}"]

    type_history = await audited.http.get("/Patient/_history", headers=audited.doctor())
    events = await audited.events_of_request(type_history.headers["x-request-id"])
    assert events and {subtype(e) for e in events} == {"history-type"}

    validated = await audited.http.post(
        "/Patient/$validate", json={"resourceType": "Patient", "gender": "male"}, headers=audited.doctor()
    )
    assert validated.status_code == 200
    event = await _one_event(audited, validated)
    assert subtype(event) == "operation" and event["subtype"][1]["code"] == "$validate"
    assert event["action"] == "E"


async def test_binary_download(audited: Audited) -> None:
    pid = await _patient(audited)
    uploaded = await audited.http.post(
        "/Binary",
        content=b"scan bytes",
        headers={**audited.doctor(), "Content-Type": "text/plain", "X-Security-Context": f"Patient/{pid}"},
    )
    assert uploaded.status_code == 201, uploaded.text
    binary_id = uploaded.json()["id"] if uploaded.content else uploaded.headers["location"].split("/")[-3]
    downloaded = await audited.http.get(
        f"/Binary/{binary_id}", headers={**audited.doctor(), "Accept": "text/plain"}
    )
    assert downloaded.content == b"scan bytes"
    event = await _one_event(audited, downloaded)
    assert (subtype(event), event["action"]) == ("read", "R")
    assert f"Binary/{binary_id}/_history/1" in entity_references(event)
    assert patient_references(event) == [f"Patient/{pid}"]


def _entry(method: str, url: str, resource: JsonDict | None = None) -> JsonDict:
    entry: JsonDict = {"request": {"method": method, "url": url}}
    if resource is not None:
        entry["resource"] = resource
    return entry


async def test_transaction_entries_each_have_an_event_and_the_bundle_one_more(audited: Audited) -> None:
    pid = await _patient(audited)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                **_entry("POST", "Observation", {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "bp"},
                    "subject": {"reference": f"Patient/{pid}"},
                }),
                "fullUrl": "urn:uuid:0c4f6a8e-8f34-4c7e-9d5b-0c4f6a8e8f34",
            },
            _entry("GET", f"Patient/{pid}"),
        ],
    }  # fmt: skip
    response = await audited.http.post("", json=bundle, headers=audited.doctor())
    assert response.status_code == 200, response.text
    events = await audited.events_of_request(response.headers["x-request-id"])
    kinds = sorted(subtype(e) for e in events)
    assert kinds == ["create", "read", "transaction"]
    (create,) = [e for e in events if subtype(e) == "create"]
    assert patient_references(create) == [f"Patient/{pid}"]
    (outer,) = [e for e in events if subtype(e) == "transaction"]
    assert (outer["action"], outer["outcome"]) == ("E", "0")


async def test_batch_entries_including_failed_ones(audited: Audited) -> None:
    pid = await _patient(audited)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [_entry("GET", f"Patient/{pid}"), _entry("GET", "Patient/does-not-exist")],
    }
    response = await audited.http.post("", json=bundle, headers=audited.doctor())
    assert response.status_code == 200
    events = await audited.events_of_request(response.headers["x-request-id"])
    outcomes = sorted((subtype(e), e["outcome"]) for e in events)
    assert outcomes == [("batch", "0"), ("read", "0"), ("read", "4")]
    (failed,) = [e for e in events if e["outcome"] == "4"]
    assert failed["outcomeDesc"] == "404 not-found"
    assert "Patient/does-not-exist" in entity_references(failed)


async def test_a_failed_transaction_leaves_only_its_failure(audited: Audited) -> None:
    pid = await _patient(audited)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            _entry("POST", "Observation", {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": f"Patient/{pid}"},
            }),
            _entry("PUT", "Patient/missing-version", {"resourceType": "Patient", "id": "other"}),
        ],
    }  # fmt: skip
    response = await audited.http.post("", json=bundle, headers=audited.doctor())
    assert response.status_code == 400
    events = await audited.events_of_request(response.headers["x-request-id"])
    # The create was rolled back with the transaction: so was its AuditEvent (and Provenance).
    assert "create" not in {subtype(e) for e in events}
    assert [(subtype(e), e["outcome"]) for e in events if subtype(e) == "transaction"] == [
        ("transaction", "4")
    ]


async def test_request_ids_tie_the_events_of_one_request(audited: Audited) -> None:
    pid = await _patient(audited)
    response = await audited.http.get(
        f"/Patient/{pid}", headers={**audited.doctor(), "X-Request-ID": "req-audit-1"}
    )
    event = await _one_event(audited, response)
    assert request_ids(event) == ["req-audit-1"]
