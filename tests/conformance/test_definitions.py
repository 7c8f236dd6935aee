"""The shipped conformance resources themselves: valid R4B resources, consistent with each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_server.conformance.profiles import ConformanceResources
from fhir_server.conformance.validator import ProfileValidator

from .conftest import CLINIC, EXAMPLES, PROFILES, example_paths, read_json

JsonDict = dict[str, Any]
DEFINITION_PATHS = sorted(PROFILES.glob("*.json"))
STRUCTURE_PATHS = sorted(PROFILES.glob("StructureDefinition-*.json"))
RESOURCE_PROFILES = [p for p in STRUCTURE_PATHS if read_json(p)["kind"] == "resource"]
REQUIRED_PROFILES = {
    "clinic-patient", "clinic-practitioner", "clinic-practitionerrole", "clinic-appointment",
    "clinic-encounter", "clinic-condition", "clinic-observation", "clinic-medicationrequest",
    "clinic-careplan", "clinic-procedure", "clinic-documentreference", "clinic-media",
    "clinic-invoice-expense", "clinic-invoice-income",
}  # fmt: skip


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", DEFINITION_PATHS, ids=_ids(DEFINITION_PATHS))
def test_every_definition_is_a_valid_r4b_resource(path: Path) -> None:
    data = read_json(path)
    model: Any = get_fhir_model_class(data["resourceType"]).model_validate(data)
    assert model.id == path.stem.partition("-")[2]
    assert data["url"] == f"{CLINIC}/{data['resourceType']}/{data['id']}"


def test_every_clinic_concept_has_a_profile() -> None:
    assert {read_json(p)["id"] for p in RESOURCE_PROFILES} == REQUIRED_PROFILES


@pytest.mark.parametrize("path", STRUCTURE_PATHS, ids=_ids(STRUCTURE_PATHS))
def test_snapshot_contains_every_differential_element(path: Path) -> None:
    definition = read_json(path)
    snapshot = {e["id"]: e for e in definition["snapshot"]["element"]}
    for element in definition["differential"]["element"]:
        assert element["id"] in snapshot, element["id"]
        merged = snapshot[element["id"]]
        for key, value in element.items():
            if key == "constraint":  # appended to the base's, with a source added
                expressions = {c["key"]: c["expression"] for c in merged[key]}
                assert all(expressions.get(c["key"]) == c["expression"] for c in value)
            else:
                assert merged[key] == value, (element["id"], key)


@pytest.mark.parametrize("path", STRUCTURE_PATHS, ids=_ids(STRUCTURE_PATHS))
def test_snapshot_lists_parents_before_children(path: Path) -> None:
    seen: set[str] = set()
    for element in read_json(path)["snapshot"]["element"]:
        parent = element["id"].rpartition(".")[0]
        assert not parent or parent in seen, element["id"]
        seen.add(element["id"])


@pytest.mark.parametrize("path", STRUCTURE_PATHS, ids=_ids(STRUCTURE_PATHS))
def test_snapshot_keeps_the_base_definition_elements(path: Path, validator: ProfileValidator) -> None:
    definition = read_json(path)
    base = validator.structures.base(definition["type"])
    assert base is not None
    ids = {e["id"] for e in definition["snapshot"]["element"]}
    assert set(base.by_id) <= ids


def test_every_resource_profile_has_a_valid_example() -> None:
    claimed = {read_json(p)["meta"]["profile"][0] for p in example_paths()}
    assert claimed == {read_json(p)["url"] for p in RESOURCE_PROFILES}
    assert EXAMPLES.is_dir()


def test_every_binding_names_a_value_set_the_server_can_enumerate(validator: ProfileValidator) -> None:
    for path in STRUCTURE_PATHS:
        for element in read_json(path)["differential"]["element"]:
            if "binding" in element:
                assert validator.terminology.expansion(element["binding"]["valueSet"]) is not None, element[
                    "id"
                ]


def test_every_target_profile_and_type_profile_is_known(validator: ProfileValidator) -> None:
    for path in STRUCTURE_PATHS:
        for element in read_json(path)["differential"]["element"]:
            for type_ in element.get("type", ()):
                for url in type_.get("targetProfile", []) + type_.get("profile", []):
                    assert validator.structures.by_url(url) is not None, (element["id"], url)


def test_code_systems_count_their_concepts_and_have_unique_codes() -> None:
    def codes(concepts: list[JsonDict]) -> list[str]:
        return [c["code"] for c in concepts] + [x for c in concepts for x in codes(c.get("concept", []))]

    for code_system in ConformanceResources.from_directories([PROFILES]).all_by_type("CodeSystem"):
        found = codes(code_system["concept"])
        assert len(found) == len(set(found)) == code_system["count"]


def test_staff_roles_and_finance_vocabularies_are_the_clinics(validator: ProfileValidator) -> None:
    def codes(name: str) -> set[str]:
        expansion = validator.terminology.expansion(f"{CLINIC}/ValueSet/{name}")
        assert expansion is not None
        return {c.code for c in expansion.concepts}

    assert codes("clinic-staff-role") == {"admin", "doctor", "nurse", "receptionist", "accountant", "lab"}
    assert codes("clinic-income-source") == {"lab", "donation", "service", "other"}
    assert {"rent", "salaries", "supplies", "equipment", "utilities", "maintenance", "insurance", "taxes",
            "marketing", "other"} == codes("clinic-expense-category")  # fmt: skip


def test_search_parameters_are_on_clinic_extensions() -> None:
    resources = ConformanceResources.from_directories([PROFILES])
    parameters = {sp["code"]: sp for sp in resources.all_by_type("SearchParameter")}
    assert set(parameters) == {"kind", "expense-category", "expense-reason", "income-source", "appointment"}
    for code in ("expense-category", "expense-reason", "income-source"):
        extension_url = f"{CLINIC}/StructureDefinition/{code}"
        assert extension_url in parameters[code]["expression"]
        assert resources.by_url(extension_url) is not None


def test_conformance_resources_lookup() -> None:
    resources = ConformanceResources.from_directories([PROFILES])
    patient = resources.by_id("StructureDefinition", "clinic-patient")
    assert patient is not None
    assert resources.by_url(patient["url"]) is patient
    assert resources.by_url(f"{patient['url']}|{patient['version']}") is patient
    assert resources.by_id("ValueSet", "clinic-patient") is None
    assert resources.types() == ["CodeSystem", "SearchParameter", "StructureDefinition", "ValueSet"]
    assert len(resources.all_by_type("StructureDefinition")) == len(STRUCTURE_PATHS)
