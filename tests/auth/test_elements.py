"""Element rules through the gate: what each role sees of a resource (``redact``), what its updates
keep (``preserve_hidden``), and which searches are refused (``check_search``)."""

from __future__ import annotations

import copy
from typing import Any, Final

import pytest

from fhir_server.auth.elements import REDACTED_CODE
from fhir_server.auth.facts import IndexerFacts
from fhir_server.auth.gate import ScopeGate
from fhir_server.errors import Forbidden
from tests.auth.test_role_table import role_ctx

REASON: Final = {"coding": [{"system": "http://snomed.info/sct", "code": "195967001", "display": "Asthma"}]}
APPOINTMENT: Final[dict[str, Any]] = {
    "resourceType": "Appointment",
    "id": "a1",
    "meta": {"versionId": "3"},
    "text": {"status": "generated", "div": "<div xmlns='http://www.w3.org/1999/xhtml'>Asthma review</div>"},
    "status": "booked",
    "reasonCode": [REASON],
    "reasonReference": [{"reference": "#c1"}],
    "contained": [
        {"resourceType": "Condition", "id": "c1", "code": REASON, "subject": {"reference": "Patient/p1"}},
        {"resourceType": "Location", "id": "l1", "name": "Room 2"},
    ],
    "description": "Follow-up",
    "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
}
ENCOUNTER: Final[dict[str, Any]] = {
    "resourceType": "Encounter",
    "id": "e1",
    "status": "finished",
    "class": {"code": "AMB"},
    "subject": {"reference": "Patient/p1"},
    "reasonCode": [REASON],
    "diagnosis": [{"condition": {"reference": "Condition/c9"}}],
}
PATIENT: Final[dict[str, Any]] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "http://clinic.example.org/fhir/sid/mrn", "value": "MRN-1"}],
    "name": [{"family": "Doe", "given": ["Jane"]}],
    "birthDate": "1980-02-03",
    "address": [{"city": "Springfield"}],
    "generalPractitioner": [{"reference": "Practitioner/dr-1"}],
    "extension": [{"url": "http://example.org/hiv-status", "valueString": "positive"}],
    "contact": [{"name": {"family": "Doe"}}],
}
CLAIM: Final[dict[str, Any]] = {
    "resourceType": "Claim",
    "id": "cl1",
    "status": "active",
    "patient": {"reference": "Patient/p1"},
    "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": REASON}],
    "total": {"value": 80, "currency": "USD"},
}


@pytest.fixture(scope="module")
def gate() -> ScopeGate:
    return ScopeGate(IndexerFacts())


def _redacted(resource: dict[str, Any]) -> bool:
    return any(label.get("code") == REDACTED_CODE for label in resource.get("meta", {}).get("security", []))


# (role, resource, elements it must not see, elements it must see)
VIEWS: Final = [
    (
        "receptionist",
        APPOINTMENT,
        {"reasonCode", "reasonReference", "text"},
        {"status", "description", "participant"},
    ),
    ("receptionist", ENCOUNTER, {"reasonCode", "diagnosis"}, {"status", "subject", "class"}),
    (
        "accountant",
        PATIENT,
        {"generalPractitioner", "extension", "contact"},
        {"name", "birthDate", "identifier"},
    ),
    ("accountant", CLAIM, {"diagnosis"}, {"total", "patient", "status"}),
    ("lab", PATIENT, {"generalPractitioner", "extension"}, {"name", "birthDate", "identifier"}),
    ("doctor", APPOINTMENT, set(), {"reasonCode", "reasonReference", "text", "contained"}),
    ("nurse", ENCOUNTER, set(), {"reasonCode", "diagnosis"}),
]


@pytest.mark.parametrize(("role", "resource", "hidden", "shown"), VIEWS)
def test_what_each_role_sees(
    gate: ScopeGate, role: str, resource: dict[str, Any], hidden: set[str], shown: set[str]
) -> None:
    before = copy.deepcopy(resource)
    view = gate.redact(role_ctx(role), resource)
    assert resource == before, "the stored resource is never changed"
    assert not hidden & set(view), f"{role} sees {hidden & set(view)}"
    assert shown <= set(view)
    assert _redacted(view) == bool(hidden)
    if not hidden:
        assert view is resource  # identity: nothing copied for most callers


def test_contained_resources_the_role_cannot_read_are_removed(gate: ScopeGate) -> None:
    view = gate.redact(role_ctx("receptionist"), APPOINTMENT)
    assert [item["resourceType"] for item in view["contained"]] == ["Location"]
    assert "Asthma" not in str(view)


def test_an_update_by_a_role_keeps_what_it_cannot_see(gate: ScopeGate) -> None:
    ctx = role_ctx("receptionist")
    seen = gate.redact(ctx, APPOINTMENT)
    edited = {**copy.deepcopy(seen), "description": "Moved to Tuesday"}
    stored = gate.preserve_hidden(ctx, APPOINTMENT, edited)
    assert stored["description"] == "Moved to Tuesday"
    assert stored["reasonCode"] == APPOINTMENT["reasonCode"]
    assert stored["reasonReference"] == APPOINTMENT["reasonReference"]
    assert stored["text"] == APPOINTMENT["text"]
    assert {item["id"] for item in stored["contained"]} == {"c1", "l1"}
    assert not _redacted(stored), "the REDACTED label of the view is not stored"
    # Nor can the role set a hidden element: its attempt is replaced by the stored value.
    forged = {**edited, "reasonCode": [{"text": "something else"}]}
    assert gate.preserve_hidden(ctx, APPOINTMENT, forged)["reasonCode"] == APPOINTMENT["reasonCode"]
    created = gate.preserve_hidden(
        ctx, None, {"resourceType": "Appointment", "status": "proposed", "reasonCode": [REASON]}
    )
    assert "reasonCode" not in created


def test_an_update_by_a_role_that_sees_everything_is_unchanged(gate: ScopeGate) -> None:
    incoming = {**APPOINTMENT, "reasonCode": []}
    assert gate.preserve_hidden(role_ctx("doctor"), APPOINTMENT, incoming) is incoming


def test_shown_only_elements_are_kept_on_update(gate: ScopeGate) -> None:
    ctx = role_ctx("accountant")
    edited = {**gate.redact(ctx, PATIENT), "address": [{"city": "Shelbyville"}]}
    stored = gate.preserve_hidden(ctx, PATIENT, edited)
    assert stored["address"] == [{"city": "Shelbyville"}]
    assert stored["extension"] == PATIENT["extension"]
    assert stored["generalPractitioner"] == PATIENT["generalPractitioner"]


# (role, resource type, search parameters, refused?)
SEARCHES: Final = [
    ("receptionist", "Encounter", [("reason-code:text", "asthma")], True),
    ("receptionist", "Encounter", [("reason-code", "195967001")], True),
    ("receptionist", "Encounter", [("diagnosis", "Condition/c9")], True),
    ("receptionist", "Appointment", [("reason-reference", "Condition/c1")], True),
    ("receptionist", "Appointment", [("_sort", "date,-reason-code")], True),
    ("receptionist", "Appointment", [("_text", "asthma")], True),
    ("receptionist", "Appointment", [("_content", "asthma")], True),
    ("receptionist", "Appointment", [("_include", "Appointment:reason-reference")], True),
    ("receptionist", "Patient", [("_has:Encounter:patient:reason-code", "195967001")], True),
    (
        "receptionist",
        "Patient",
        [("_has:Appointment:patient:_has:Encounter:appointment:diagnosis", "x")],
        True,
    ),
    ("receptionist", "AppointmentResponse", [("appointment.reason-code", "x")], True),
    ("receptionist", "Encounter", [("appointment:Appointment.reason-code", "x")], True),
    ("receptionist", "Encounter", [("status", "finished"), ("date", "ge2024")], False),
    ("receptionist", "Appointment", [("_sort", "date"), ("patient", "Patient/p1")], False),
    ("receptionist", "Patient", [("_has:Encounter:patient:status", "finished")], False),
    ("accountant", "Patient", [("general-practitioner", "Practitioner/dr-1")], True),
    ("accountant", "Patient", [("name", "doe"), ("birthdate", "1980")], False),
    ("accountant", "Claim", [("_has:Claim:patient:status", "active")], False),
    ("doctor", "Encounter", [("reason-code", "195967001")], False),
    ("nurse", "Appointment", [("_text", "asthma")], False),
]


@pytest.mark.parametrize(("role", "resource_type", "params", "refused"), SEARCHES)
def test_searches_by_hidden_elements_are_refused(
    gate: ScopeGate, role: str, resource_type: str, params: list[tuple[str, str]], refused: bool
) -> None:
    if refused:
        with pytest.raises(Forbidden) as caught:
            gate.check_search(role_ctx(role), resource_type, params)
        assert caught.value.expression  # names the parameter
    else:
        gate.check_search(role_ctx(role), resource_type, params)
