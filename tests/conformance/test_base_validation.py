"""Validation against the R4B base definitions: official examples, Synthea data, structural errors."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import Issue

from .conftest import REPO

JsonDict = dict[str, Any]
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "reference" / "fhir-r4b-examples"
SYNTHEA = SHARED / "data" / "synthea-2019"
# Official examples that really break a base rule (the specification's own publication has them).
KNOWN_INVALID = {
    # a reference to an Encounter where Observation.performer allows none
    "Observation-clinical-gender.json": "Observation.performer[0]",
    # Attachment.hash is hex text, not the base64 SHA-1 of the data
    "DiagnosticReport-example-pgx.json": "DiagnosticReport.presentedForm[0].hash",
}


def _errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity in ("error", "fatal")]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="shared official examples are not available")
def test_official_examples_are_valid(validator: ProfileValidator) -> None:
    paths = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.startswith("_"))
    assert len(paths) > 250
    failures = {}
    for path in paths:
        errors = _errors(validator.validate(orjson.loads(path.read_bytes())))
        if errors:
            failures[path.name] = errors[0].expression[0] if errors[0].expression else errors[0].diagnostics
    assert failures == KNOWN_INVALID


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="shared Synthea data is not available")
def test_synthea_resources_are_valid(validator: ProfileValidator) -> None:
    path = min(SYNTHEA.glob("*.json.gz"), key=lambda p: p.stat().st_size)
    bundle = orjson.loads(gzip.decompress(path.read_bytes()))
    resources = [entry["resource"] for entry in bundle["entry"]]
    assert len(resources) > 50
    for resource in resources:
        assert _errors(validator.validate(resource)) == [], resource["resourceType"]
    assert _errors(validator.validate(bundle)) == []


def test_errors_carry_fhirpath_locations(validator: ProfileValidator) -> None:
    issues = validator.validate(
        {"resourceType": "Invoice", "status": "draft", "lineItem": [{"sequence": 0}], "foo": 1}
    )
    found = {(i.code, i.expression) for i in issues}
    assert ("structure", ("Invoice.foo",)) in found
    assert ("value", ("Invoice.lineItem[0].sequence",)) in found
    assert {i.code for i in validator.validate({"resourceType": "Invoice"})} == {"required"}


def test_not_a_resource(validator: ProfileValidator) -> None:
    assert [i.code for i in validator.validate({"name": "x"})] == ["required"]
    assert [i.code for i in validator.validate({"resourceType": "Nonsense"})] == ["not-supported"]
    assert [i.code for i in validator.validate([])] == ["structure"]  # type: ignore[arg-type]


def test_base_rules_apply_below_data_types(validator: ProfileValidator) -> None:
    patient = {
        "resourceType": "Patient",
        "gender": "robot",
        "name": [{"use": "nickname-ish", "family": "X"}],
        "managingOrganization": {"reference": "Patient/1"},
        "contact": [{"gender": "male"}],
        "extension": [{"url": "http://example.org/x"}],
    }
    found = {(i.code, i.expression[0]) for i in _errors(validator.validate(patient))}
    assert found == {
        ("code-invalid", "Patient.gender"),
        ("code-invalid", "Patient.name[0].use"),
        ("structure", "Patient.managingOrganization"),
        ("invariant", "Patient.contact[0]"),  # pat-1: a contact has details
        ("invariant", "Patient.extension[0]"),  # ext-1: neither value nor extensions
    }


def test_modes(validator: ProfileValidator) -> None:
    patient: JsonDict = {"resourceType": "Patient"}
    assert validator.validate(patient, mode="create") == []
    assert [i.expression for i in validator.validate(patient, mode="update")] == [("Patient.id",)]
    assert [i.severity for i in validator.validate(patient, mode="delete")] == ["information"]
    assert [i.code for i in validator.validate(patient, mode="purge")] == ["value"]


def test_primitive_extensions_count_for_cardinality(validator: ProfileValidator) -> None:
    profile = "http://clinic.example.org/fhir/StructureDefinition/clinic-patient"
    patient: JsonDict = {"resourceType": "Patient", "name": [{"family": "X"}]}
    assert [i.expression for i in validator.validate(patient, profiles=[profile])] == [("Patient.gender",)]
    patient["_gender"] = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                         "valueCode": "asked-declined"}]}  # fmt: skip
    assert validator.validate(patient, profiles=[profile]) == []


def test_profile_files_load_once_and_stay_cached(validator: ProfileValidator) -> None:
    url = "http://clinic.example.org/fhir/StructureDefinition/clinic-patient"
    assert validator.structures.by_url(url) is validator.structures.by_url(f"{url}|0.1.0")
    assert validator.structures.by_url("http://example.org/none") is None
    assert isinstance(SHARED, Path)


def test_warm_up_compiles_profiles_and_invariants() -> None:
    fresh = ProfileValidator.from_directories()
    assert fresh.warm_up() > 50
    patient = fresh.structures.by_url("http://clinic.example.org/fhir/StructureDefinition/clinic-patient")
    assert patient is not None and patient.type == "Patient"


def test_claiming_a_core_definition_validates_against_it(validator: ProfileValidator) -> None:
    patient: JsonDict = {"resourceType": "Patient", "gender": "robot"}
    patient["meta"] = {"profile": ["http://hl7.org/fhir/StructureDefinition/Patient"]}
    assert validator.knows_profile("http://hl7.org/fhir/StructureDefinition/Patient|4.3.0")
    assert [(i.code, i.expression) for i in validator.validate(patient)] == [
        ("code-invalid", ("Patient.gender",))
    ]
    assert not validator.knows_profile("http://hl7.org/fhir/StructureDefinition/vitalsigns")
