"""``ScopeGate``: scopes, patient compartment and granular scopes, with the real search indexer."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.access import SearchConstraint
from fhir_server.auth.facts import IndexerFacts
from fhir_server.auth.gate import ScopeGate
from fhir_server.context import Interaction, Principal, RequestContext
from fhir_server.errors import Forbidden

LAB = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}
VITALS = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}


@pytest.fixture(scope="module")
def gate() -> ScopeGate:
    return ScopeGate(IndexerFacts())


def ctx(*scopes: str, patient: str | None = None, fhir_user: str | None = None) -> RequestContext:
    principal = Principal(
        subject="s", client_id="c", scopes=frozenset(scopes), patient=patient, fhir_user=fhir_user
    )
    return RequestContext(principal=principal, base_url="http://testserver/fhir")


def observation(patient: str, category: dict[str, str] = LAB, id_: str = "o1") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "category": [{"coding": [category]}],
        "code": {"text": "test"},
        "subject": {"reference": f"Patient/{patient}"},
    }


def test_patient_context_sees_only_its_compartment(gate: ScopeGate) -> None:
    caller = ctx("patient/Observation.rs", "patient/Patient.r", patient="p1")
    gate.require(caller, Interaction.READ, "Observation")
    gate.require(caller, Interaction.SEARCH_TYPE, "Observation")
    assert gate.can_see(caller, observation("p1"))
    assert not gate.can_see(caller, observation("p2"))
    assert gate.can_see(caller, {"resourceType": "Patient", "id": "p1"})
    assert not gate.can_see(caller, {"resourceType": "Patient", "id": "p2"})
    assert gate.search_constraint(caller, "Observation") == SearchConstraint(compartment="Patient/p1")


def test_no_scope_for_the_type_or_interaction_is_403(gate: ScopeGate) -> None:
    caller = ctx("patient/Observation.rs", patient="p1")
    with pytest.raises(Forbidden):
        gate.require(caller, Interaction.READ, "Condition")
    with pytest.raises(Forbidden):
        gate.require(caller, Interaction.CREATE, "Observation")
    with pytest.raises(Forbidden):
        gate.search_constraint(caller, "Condition")
    assert not gate.can_see(
        caller, {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p1"}}
    )


def test_read_without_search_and_search_without_read(gate: ScopeGate) -> None:
    reader = ctx("user/Observation.r")
    gate.require(reader, Interaction.READ, "Observation")
    with pytest.raises(Forbidden):
        gate.require(reader, Interaction.SEARCH_TYPE, "Observation")
    searcher = ctx("user/Observation.s")
    gate.require(searcher, Interaction.SEARCH_TYPE, "Observation")
    with pytest.raises(Forbidden):
        gate.require(searcher, Interaction.READ, "Observation")


def test_patient_scopes_without_a_patient_grant_nothing(gate: ScopeGate) -> None:
    with pytest.raises(Forbidden):
        gate.require(ctx("patient/*.rs"), Interaction.READ, "Observation")
    portal = ctx("patient/*.rs", fhir_user="Patient/p3")  # a patient signed in: their own compartment
    assert gate.search_constraint(portal, "Observation") == SearchConstraint(compartment="Patient/p3")


def test_granular_scopes(gate: ScopeGate) -> None:
    caller = ctx("patient/Observation.rs?category=laboratory", patient="p1")
    assert gate.can_see(caller, observation("p1", LAB))
    assert not gate.can_see(caller, observation("p1", VITALS))
    assert not gate.can_see(caller, observation("p2", LAB))
    assert gate.search_constraint(caller, "Observation") == SearchConstraint(
        compartment="Patient/p1", alternatives=[[("category", "laboratory")]]
    )
    both = ctx(
        "patient/Observation.rs?category=laboratory",
        f"patient/Observation.rs?category={VITALS['system']}|{VITALS['code']}",
        patient="p1",
    )
    assert gate.can_see(both, observation("p1", VITALS))
    constraint = gate.search_constraint(both, "Observation")
    assert constraint.compartment == "Patient/p1"
    assert sorted(constraint.alternatives or []) == [
        [("category", "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs")],
        [("category", "laboratory")],
    ]
    # An unqualified scope for the same type lifts the query restriction.
    wide = ctx("patient/Observation.rs?category=laboratory", "patient/Observation.rs", patient="p1")
    assert gate.search_constraint(wide, "Observation") == SearchConstraint(compartment="Patient/p1")


def test_granular_scope_on_a_reference_parameter_matches_the_reference(gate: ScopeGate) -> None:
    caller = ctx("user/Observation.rs?subject=Patient/p1")
    assert gate.can_see(caller, observation("p1"))
    assert not gate.can_see(caller, observation("p2"))
    assert gate.search_constraint(caller, "Observation").alternatives == [[("subject", "Patient/p1")]]


def test_granular_scope_on_another_kind_of_parameter_fails_closed(gate: ScopeGate) -> None:
    caller = ctx("user/Observation.rs?date=2020")
    assert not gate.can_see(caller, observation("p1"))
    assert gate.search_constraint(caller, "Observation").alternatives == [[("date", "2020")]]


def test_v1_scopes(gate: ScopeGate) -> None:
    reader = ctx("user/*.read")
    assert gate.can_see(reader, observation("p9"))
    gate.require(reader, Interaction.SEARCH_SYSTEM, None)
    with pytest.raises(Forbidden):
        gate.check_write(reader, Interaction.CREATE, observation("p9"))
    writer = ctx("user/*.write")
    gate.check_write(writer, Interaction.CREATE, observation("p9"))
    gate.check_write(writer, Interaction.DELETE, observation("p9"))
    everything = ctx("system/*.*")
    assert gate.can_see(everything, {"resourceType": "Invoice", "id": "i"})
    assert gate.search_constraint(everything, "Invoice") == SearchConstraint()


def test_patient_writes_stay_in_the_compartment(gate: ScopeGate) -> None:
    caller = ctx("patient/Observation.cu", patient="p1")
    gate.check_write(caller, Interaction.CREATE, observation("p1"))
    with pytest.raises(Forbidden):
        gate.check_write(caller, Interaction.CREATE, observation("p2"))
    with pytest.raises(Forbidden):
        gate.check_write(caller, Interaction.DELETE, observation("p1"))


def test_user_grants_win_over_patient_grants(gate: ScopeGate) -> None:
    caller = ctx("user/Observation.rs?category=vital-signs", "patient/Observation.rs", patient="p1")
    assert gate.search_constraint(caller, "Observation") == SearchConstraint(
        alternatives=[[("category", "vital-signs")]]
    )


def test_batches_need_some_scope(gate: ScopeGate) -> None:
    gate.require(ctx("user/Patient.r"), Interaction.TRANSACTION, None)
    with pytest.raises(Forbidden):
        gate.require(ctx("openid", "fhirUser"), Interaction.BATCH, None)
    with pytest.raises(Forbidden):
        gate.require(ctx("user/Patient.c"), Interaction.SEARCH_SYSTEM, None)


def test_unparseable_scopes_are_ignored_not_fatal(gate: ScopeGate) -> None:
    caller = ctx("read:everything", "user/Patient.r")  # an external issuer's own scope beside ours
    gate.require(caller, Interaction.READ, "Patient")
    with pytest.raises(Forbidden):
        gate.require(caller, Interaction.READ, "Observation")
