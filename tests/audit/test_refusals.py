"""Refused and failed requests are audited: 401 before any call exists, 403 at the gate, a write
the validator refuses, a read of what is not there."""

from __future__ import annotations

from tests.audit.conftest import Audited, agent, entity_references, patient_references, queries, subtype


async def test_unauthenticated_request_is_audited_with_its_address(audited: Audited) -> None:
    response = await audited.http.get("/Patient", params={"family": "Anyone"})
    assert response.status_code == 401
    (event,) = await audited.events_of_request(response.headers["x-request-id"])
    assert (subtype(event), event["action"], event["outcome"]) == ("search-type", "E", "4")
    assert event["outcomeDesc"] == "401 login"
    client = agent(event, "110153")
    assert client["who"] == {"display": "unauthenticated client"}
    assert client["requestor"] is True
    assert client["network"]["address"]
    assert queries(event) == ["GET Patient?family=Anyone"]


async def test_a_bad_token_is_audited(audited: Audited) -> None:
    response = await audited.http.get("/Patient/x", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    (event,) = await audited.events_of_request(response.headers["x-request-id"])
    assert event["outcome"] == "4"
    assert patient_references(event) == ["Patient/x"]  # an attempt on a patient's record is theirs to see


async def test_forbidden_is_audited_with_who_was_refused(audited: Audited) -> None:
    headers = audited.token("user/Observation.rs", fhir_user="Practitioner/lab-1")
    response = await audited.http.get("/Patient/p-1", headers=headers)
    assert response.status_code == 403
    (event,) = await audited.events_of_request(response.headers["x-request-id"])
    assert (subtype(event), event["action"], event["outcome"], event["outcomeDesc"]) == (
        "read",
        "R",
        "4",
        "403 forbidden",
    )
    assert agent(event, "IRCP")["who"]["reference"] == "Practitioner/lab-1"


async def test_a_refused_write_is_audited_and_nothing_else_is_recorded(audited: Audited) -> None:
    response = await audited.http.post(
        "/Patient", json={"resourceType": "Patient", "gender": "not-a-gender"}, headers=audited.doctor()
    )
    assert response.status_code in (400, 422)
    (event,) = await audited.events_of_request(response.headers["x-request-id"])
    assert (subtype(event), event["action"], event["outcome"]) == ("create", "C", "4")
    assert event["outcomeDesc"].startswith(str(response.status_code))


async def test_reading_what_does_not_exist_is_audited(audited: Audited) -> None:
    response = await audited.http.get("/Observation/nothing-here", headers=audited.doctor())
    assert response.status_code == 404
    (event,) = await audited.events_of_request(response.headers["x-request-id"])
    assert event["outcome"] == "4" and entity_references(event) == ["Observation/nothing-here"]
