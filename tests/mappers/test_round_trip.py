"""record -> FHIR -> record gives the record back, for every kind, filled in fully and minimally."""

from __future__ import annotations

import pytest

from mappers import documents, finance, patient
from mappers.bundle import ClinicRecord, to_fhir
from mappers.finance import Expense, OtherIncome
from tests.mappers.readers import FROM_FHIR, over_the_wire
from tests.mappers.samples import FULL, MINIMAL

CASES = [pytest.param(kind, record, id=f"full-{kind}") for kind, record in FULL.items()] + [
    pytest.param(kind, record, id=f"minimal-{kind}") for kind, record in MINIMAL.items()
]


@pytest.mark.parametrize(("kind", "record"), CASES)
def test_record_to_fhir_and_back_is_the_same_record(kind: str, record: ClinicRecord) -> None:
    back = FROM_FHIR[kind](over_the_wire(to_fhir(record)))
    assert back == record
    assert back.model_dump() == record.model_dump()
    assert [repr(value) for value in back.model_dump().values()] == [
        repr(value) for value in record.model_dump().values()
    ]  # Decimal("480.10") stays 480.10, not 480.1


@pytest.mark.parametrize("kind", ["patient", "medical_record", "doctor"])
def test_from_fhir_ignores_resources_about_someone_else(kind: str) -> None:
    record = FULL[kind]
    other = MINIMAL[kind]
    mixed = over_the_wire(to_fhir(record)) + [
        item
        for item in over_the_wire(to_fhir(other))
        if item["resourceType"] not in {"Patient", "Encounter", "Practitioner"}
    ]
    assert FROM_FHIR[kind](mixed) == record


def test_from_fhir_takes_a_single_resource_too() -> None:
    expense = FULL["expense"]
    (invoice,) = to_fhir(expense)
    assert finance.expense_from_fhir(invoice) == expense
    assert isinstance(finance.from_fhir(invoice), Expense)
    assert isinstance(finance.from_fhir(to_fhir(FULL["income"])), OtherIncome)
    assert isinstance(documents.from_fhir(to_fhir(FULL["image"])), documents.PatientImage)
    assert isinstance(documents.from_fhir(to_fhir(FULL["document"])), documents.ClinicalDocument)


def test_a_patient_record_is_a_patient_its_allergies_and_its_conditions() -> None:
    resources = to_fhir(FULL["patient"])
    assert [item["resourceType"] for item in resources] == [
        "Patient", "AllergyIntolerance", "AllergyIntolerance", "Condition",
    ]  # fmt: skip
    assert patient.from_fhir(resources).allergies == FULL["patient"].allergies  # type: ignore[union-attr]


def test_a_medical_record_is_an_encounter_a_diagnosis_findings_and_medications() -> None:
    resources = to_fhir(FULL["medical_record"])
    assert [item["resourceType"] for item in resources] == [
        "Encounter", "Condition", "Observation", "Observation", "Observation", "Observation",
        "MedicationRequest", "MedicationRequest",
    ]  # fmt: skip
    encounter, diagnosis, *rest = resources
    assert diagnosis["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert encounter["diagnosis"][0]["condition"]["reference"] == f"Condition/{diagnosis['id']}"
    for item in rest:
        assert item["encounter"]["reference"] == f"Encounter/{encounter['id']}"
    medication = rest[-1]
    assert medication["reasonReference"][0]["reference"] == f"Condition/{diagnosis['id']}"


def test_references_point_at_the_ids_the_target_records_get() -> None:
    (appointment,) = to_fhir(FULL["appointment"])
    patient_resource = to_fhir(FULL["patient"])[0]
    practitioner = to_fhir(FULL["doctor"])[0]
    actors = {item["actor"]["reference"] for item in appointment["participant"]}
    assert actors == {f"Patient/{patient_resource['id']}", f"Practitioner/{practitioner['id']}"}


def test_ids_are_deterministic_and_differ_between_records() -> None:
    first = to_fhir(FULL["patient"])
    assert [item["id"] for item in first] == [item["id"] for item in to_fhir(FULL["patient"])]
    ids = [item["id"] for record in [*FULL.values(), *MINIMAL.values()] for item in to_fhir(record)]
    assert len(ids) == len(set(ids))
