"""Every profile accepts its example and rejects instances that break each kind of rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import Issue

from .conftest import CLINIC, example_paths

JsonDict = dict[str, Any]
DELETE: Any = object()
SD = f"{CLINIC}/StructureDefinition/"
CS = f"{CLINIC}/CodeSystem/"


def edit(resource: JsonDict, path: str, value: Any) -> None:
    """Set (or with DELETE remove) the value at a path like ``type.coding[0].code``."""
    parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
    target: Any = resource
    for part in parts[:-1]:
        target = target[part]
    if value is DELETE:
        del target[parts[-1]]
    elif isinstance(target, list) and parts[-1] == len(target):
        target.append(value)
    else:
        target[parts[-1]] = value


@dataclass(frozen=True)
class Case:
    name: str
    example: str  # "patient" for profiles/examples/Patient-clinic-patient-example.json
    edits: tuple[tuple[str, Any], ...]
    code: str  # the expected issue type
    expression: str  # the expected location


CASES = [
    # missing required elements (profile min > base min)
    Case("patient-without-name", "patient", (("name", DELETE),), "required", "Patient.name"),
    Case("patient-without-gender", "patient", (("gender", DELETE),), "required", "Patient.gender"),
    Case("practitioner-without-name", "practitioner", (("name", DELETE),), "required", "Practitioner.name"),
    Case("role-without-code", "practitionerrole", (("code", DELETE),), "required", "PractitionerRole.code"),
    Case("appointment-without-end", "appointment", (("end", DELETE),), "required", "Appointment.end"),
    Case(
        "visit-without-period-start",
        "encounter",
        (("period.start", DELETE),),
        "required",
        "Encounter.period.start",
    ),
    Case(
        "diagnosis-without-recorded-date",
        "condition",
        (("recordedDate", DELETE),),
        "required",
        "Condition.recordedDate",
    ),
    Case(
        "prescription-without-dosage",
        "medicationrequest",
        (("dosageInstruction", DELETE),),
        "required",
        "MedicationRequest.dosageInstruction",
    ),
    Case(
        "prescription-without-requester",
        "medicationrequest",
        (("requester", DELETE),),
        "required",
        "MedicationRequest.requester",
    ),
    Case("plan-without-summary", "careplan", (("description", DELETE),), "required", "CarePlan.description"),
    Case("procedure-without-code", "procedure", (("code", DELETE),), "required", "Procedure.code"),
    Case(
        "document-without-content-type",
        "documentreference",
        (("content[0].attachment.contentType", DELETE),),
        "required",
        "DocumentReference.content[0].attachment.contentType",
    ),
    Case("image-without-subject", "media", (("subject", DELETE),), "required", "Media.subject"),
    Case(
        "image-without-content-type",
        "media",
        (("content.contentType", DELETE),),
        "required",
        "Media.content.contentType",
    ),
    Case("expense-without-date", "invoice-expense", (("date", DELETE),), "required", "Invoice.date"),
    Case(
        "expense-without-category",
        "invoice-expense",
        (("extension", [{"url": f"{SD}expense-reason", "valueCodeableConcept": {"text": "restock"}}]),),
        "required",
        "Invoice.extension",
    ),
    Case(
        "income-without-source", "invoice-income", (("extension", DELETE),), "required", "Invoice.extension"
    ),
    Case("invoice-without-kind", "invoice-income", (("type", DELETE),), "required", "Invoice.type"),
    # wrong codes for required bindings
    Case(
        "unknown-staff-role",
        "practitionerrole",
        (("code[0].coding[0].code", "janitor"),),
        "code-invalid",
        "PractitionerRole.code[0]",
    ),
    Case(
        "unknown-expense-category",
        "invoice-expense",
        (("extension[0].valueCoding.code", "yacht"),),
        "code-invalid",
        "Invoice.extension[0].valueCoding",
    ),
    Case(
        "unknown-income-source",
        "invoice-income",
        (("extension[0].valueCoding.code", "lottery"),),
        "code-invalid",
        "Invoice.extension[0].valueCoding",
    ),
    Case(
        "unknown-document-category",
        "documentreference",
        (("category[0].coding[0].code", "selfie"),),
        "code-invalid",
        "DocumentReference.category[0]",
    ),
    Case(
        "document-as-html",
        "documentreference",
        (("content[0].attachment.contentType", "text/html"),),
        "code-invalid",
        "DocumentReference.content[0].attachment.contentType",
    ),
    Case(
        "image-as-pdf",
        "media",
        (("content.contentType", "application/pdf"),),
        "code-invalid",
        "Media.content.contentType",
    ),
    Case(
        "condition-category-outside-value-set",
        "condition",
        (("category[0].coding[0].code", "health-concern"),),
        "code-invalid",
        "Condition.category[0]",
    ),
    Case(
        "official-required-binding",
        "appointment",
        (("status", "postponed"),),
        "code-invalid",
        "Appointment.status",
    ),
    # fixed and pattern values
    Case(
        "expense-kind-is-income",
        "invoice-expense",
        (("type.coding[0].code", "income"),),
        "value",
        "Invoice.type.coding[0].code",
    ),
    Case(
        "income-kind-is-expense",
        "invoice-income",
        (("type.coding[0].code", "expense"),),
        "value",
        "Invoice.type.coding[0].code",
    ),
    Case(
        "prescription-is-a-proposal",
        "medicationrequest",
        (("intent", "proposal"),),
        "value",
        "MedicationRequest.intent",
    ),
    Case("plan-is-an-order", "careplan", (("intent", "order"),), "value", "CarePlan.intent"),
    Case("media-is-a-video", "media", (("type.coding[0].code", "video"),), "value", "Media.type"),
    Case(
        "mrn-slice-without-value",
        "patient",
        (("identifier[0].value", DELETE),),
        "required",
        "Patient.identifier[0].value",
    ),
    # reference targets
    Case(
        "prescription-by-organization",
        "medicationrequest",
        (("requester", {"reference": "Organization/pharmacy"}),),
        "structure",
        "MedicationRequest.requester",
    ),
    Case(
        "visit-of-a-group",
        "encounter",
        (("subject", {"reference": "Group/family"}),),
        "structure",
        "Encounter.subject",
    ),
    Case(
        "procedure-based-on-service-request",
        "procedure",
        (("basedOn[0]", {"reference": "ServiceRequest/1"}),),
        "structure",
        "Procedure.basedOn[0]",
    ),
    Case(
        "procedure-appointment-is-an-encounter",
        "procedure",
        (("extension[0].valueReference", {"reference": "Encounter/1"}),),
        "structure",
        "Procedure.extension[0].valueReference",
    ),
    Case(
        "expense-paid-by-patient",
        "invoice-expense",
        (("recipient", {"reference": "https://other.example/fhir/Patient/7"}),),
        "structure",
        "Invoice.recipient",
    ),
    Case(
        "plan-addresses-observation",
        "careplan",
        (("addresses[0]", {"reference": "Observation/1"}),),
        "structure",
        "CarePlan.addresses[0]",
    ),
    Case(
        "image-of-a-device",
        "media",
        (("subject", {"reference": "Device/camera"}),),
        "structure",
        "Media.subject",
    ),
    Case(
        "role-of-a-typed-reference",
        "practitionerrole",
        (("practitioner", {"type": "Patient", "display": "Someone"}),),
        "structure",
        "PractitionerRole.practitioner",
    ),
    # invariants (FHIRPath constraints)
    Case(
        "patient-name-without-parts", "patient", (("name[0]", {"use": "official"}),), "invariant", "Patient"
    ),
    Case(
        "doctor-without-specialty",
        "practitionerrole",
        (("specialty", DELETE),),
        "invariant",
        "PractitionerRole",
    ),
    Case(
        "appointment-ends-before-start",
        "appointment",
        (("end", "2026-11-30T08:00:00Z"),),
        "invariant",
        "Appointment",
    ),
    Case(
        "appointment-without-patient",
        "appointment",
        (
            (
                "participant",
                [{"actor": {"reference": "Practitioner/clinic-practitioner-example"}, "status": "accepted"}],
            ),
        ),
        "invariant",
        "Appointment",
    ),
    Case("finding-without-value", "observation", (("valueQuantity", DELETE),), "invariant", "Observation"),
    Case(
        "dosage-without-text-or-dose",
        "medicationrequest",
        (("dosageInstruction[0]", {"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}),),
        "invariant",
        "MedicationRequest",
    ),
    Case(
        "unlinked-procedure",
        "procedure",
        (("basedOn", DELETE), ("encounter", DELETE), ("extension", DELETE)),
        "invariant",
        "Procedure",
    ),
    Case(
        "completed-procedure-without-time",
        "procedure",
        (("performedDateTime", DELETE),),
        "invariant",
        "Procedure",
    ),
    Case(
        "document-without-location",
        "documentreference",
        (("content[0].attachment.url", DELETE),),
        "invariant",
        "DocumentReference",
    ),
    Case("image-without-location", "media", (("content.url", DELETE),), "invariant", "Media"),
    Case(
        "expense-without-amount",
        "invoice-expense",
        (("totalNet", DELETE), ("totalGross", DELETE)),
        "invariant",
        "Invoice",
    ),
    Case("negative-income", "invoice-income", (("totalGross.value", -10),), "invariant", "Invoice"),
    Case(
        "diagnosis-without-code-or-text",
        "condition",
        (("code", {"extension": [{"url": "http://example.org/x", "valueString": "?"}]}),),
        "invariant",
        "Condition",
    ),
    Case(
        "base-invariant-period",
        "encounter",
        (("period.end", "2026-11-29T09:00:00Z"),),
        "invariant",
        "Encounter.period",
    ),
    # cardinality (too many) and slicing
    Case(
        "two-medical-record-numbers",
        "patient",
        (("identifier[1]", {"system": f"{CLINIC}/sid/mrn", "value": "MRN-2"}),),
        "structure",
        "Patient.identifier",
    ),
    Case(
        "two-staff-numbers",
        "practitioner",
        (("identifier[1]", {"system": f"{CLINIC}/sid/staff", "value": "S-2"}),),
        "structure",
        "Practitioner.identifier",
    ),
    Case(
        "expense-naming-a-patient",
        "invoice-expense",
        (("subject", {"reference": "Patient/clinic-patient-example"}),),
        "structure",
        "Invoice.subject",
    ),
    Case(
        "two-document-categories",
        "documentreference",
        (("category[1]", {"coding": [{"system": f"{CS}clinic-document-category", "code": "other"}]}),),
        "structure",
        "DocumentReference.category",
    ),
    Case(
        "two-expense-categories",
        "invoice-expense",
        (
            (
                "extension[2]",
                {
                    "url": f"{SD}expense-category",
                    "valueCoding": {"system": f"{CS}clinic-expense-category", "code": "rent"},
                },
            ),
        ),
        "structure",
        "Invoice.extension",
    ),
    Case(
        "finding-not-an-exam",
        "observation",
        (("category[0].coding[0].code", "laboratory"),),
        "required",
        "Observation.category",
    ),
    Case(
        "finding-timed-by-schedule",
        "observation",
        (("effectiveDateTime", DELETE), ("effectiveTiming", {"event": ["2026-11-30"]})),
        "structure",
        "Observation.effectiveTiming",
    ),
    # more of each kind, so that every profile meets every kind of rule it has
    Case("patient-gender-robot", "patient", (("gender", "robot"),), "code-invalid", "Patient.gender"),
    Case(
        "patient-managed-by-patient",
        "patient",
        (("managingOrganization", {"reference": "Patient/x"}),),
        "structure",
        "Patient.managingOrganization",
    ),
    Case(
        "staff-name-without-parts",
        "practitioner",
        (("name[0]", {"prefix": ["Dr."]}),),
        "invariant",
        "Practitioner",
    ),
    Case("staff-gender-robot", "practitioner", (("gender", "robot"),), "code-invalid", "Practitioner.gender"),
    Case(
        "qualification-issued-by-patient",
        "practitioner",
        (("qualification[0].issuer", {"reference": "Patient/x"}),),
        "structure",
        "Practitioner.qualification[0].issuer",
    ),
    Case(
        "appointment-with-an-observation",
        "appointment",
        (("participant[1].actor", {"reference": "Observation/x"}),),
        "structure",
        "Appointment.participant[1].actor",
    ),
    Case("visit-status-unknown", "encounter", (("status", "paused"),), "code-invalid", "Encounter.status"),
    Case(
        "visit-without-participant",
        "encounter",
        (("participant", DELETE),),
        "required",
        "Encounter.participant",
    ),
    Case(
        "diagnosis-recorded-by-patient",
        "condition",
        (("recorder", {"reference": "Patient/x"}),),
        "structure",
        "Condition.recorder",
    ),
    Case(
        "finding-status-unknown", "observation", (("status", "done"),), "code-invalid", "Observation.status"
    ),
    Case(
        "finding-performed-by-patient",
        "observation",
        (("performer[0]", {"reference": "Patient/x"}),),
        "structure",
        "Observation.performer[0]",
    ),
    Case(
        "finding-without-time",
        "observation",
        (("effectiveDateTime", DELETE),),
        "required",
        "Observation.effective",
    ),
    Case(
        "prescription-status-unknown",
        "medicationrequest",
        (("status", "paused"),),
        "code-invalid",
        "MedicationRequest.status",
    ),
    Case("plan-status-unknown", "careplan", (("status", "paused"),), "code-invalid", "CarePlan.status"),
    Case(
        "plan-activity-reference-and-detail",
        "careplan",
        (("activity[0].detail", {"status": "scheduled"}),),
        "invariant",
        "CarePlan.activity[0]",
    ),
    Case("procedure-status-unknown", "procedure", (("status", "done"),), "code-invalid", "Procedure.status"),
    Case(
        "procedure-with-two-appointments",
        "procedure",
        (
            (
                "extension[1]",
                {"url": f"{SD}procedure-appointment", "valueReference": {"reference": "Appointment/other"}},
            ),
        ),
        "structure",
        "Procedure.extension",
    ),
    Case(
        "document-of-a-group",
        "documentreference",
        (("subject", {"reference": "Group/x"}),),
        "structure",
        "DocumentReference.subject",
    ),
    Case(
        "income-of-a-group",
        "invoice-income",
        (("subject", {"reference": "Group/x"}),),
        "structure",
        "Invoice.subject",
    ),
    Case(
        "income-with-two-sources",
        "invoice-income",
        (
            (
                "extension[1]",
                {
                    "url": f"{SD}income-source",
                    "valueCoding": {"system": f"{CS}clinic-income-source", "code": "lab"},
                },
            ),
        ),
        "structure",
        "Invoice.extension",
    ),
]


def _has(issues: list[Issue], code: str, expression: str) -> bool:
    return any(i.severity == "error" and i.code == code and expression in i.expression for i in issues)


@pytest.mark.parametrize("path", example_paths(), ids=[p.stem for p in example_paths()])
def test_example_is_valid_against_its_profile(path: Any, validator: ProfileValidator) -> None:
    from .conftest import read_json

    resource = read_json(path)
    assert validator.validate(resource) == []
    profile = resource["meta"]["profile"][0]
    del resource["meta"]
    assert validator.validate(resource, profiles=[profile]) == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_profile_rejects(case: Case, validator: ProfileValidator, example: Callable[[str], JsonDict]) -> None:
    resource = example(f"clinic-{case.example}-example")
    for path, value in case.edits:
        edit(resource, path, value)
    issues = validator.validate(resource)
    assert _has(issues, case.code, case.expression), [(i.code, i.expression, i.diagnostics) for i in issues]


def test_every_profile_has_rejection_cases() -> None:
    assert {f"clinic-{c.example}-example" for c in CASES} == {
        p.stem.partition("-")[2] for p in example_paths()
    }


def test_clinic_rules_apply_by_content_without_a_claim(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    expense = example("clinic-invoice-expense-example")
    edit(expense, "type.coding[0].code", "income")  # its category extension still makes it an expense
    del expense["meta"]
    assert [i.expression for i in validator.validate(expense)] == [("Invoice.type.coding[0].code",)]
    plain = {"resourceType": "Invoice", "status": "issued", "type": {"coding": [{"code": "anything"}]}}
    assert validator.validate(plain) == []  # a plain R4B Invoice may say anything in type


def test_issues_name_the_profile(validator: ProfileValidator, example: Callable[[str], JsonDict]) -> None:
    resource = example("clinic-invoice-expense-example")
    edit(resource, "date", DELETE)
    (issue,) = validator.validate(resource)
    assert f"{SD}clinic-invoice-expense" in issue.diagnostics
    assert issue.to_fhir()["expression"] == ["Invoice.date"]
