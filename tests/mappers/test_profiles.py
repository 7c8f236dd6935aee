"""Every resource the mappers produce conforms to the clinic profile it claims (no error issues)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fhir_server.conformance.validator import ProfileValidator
from mappers import terms
from mappers.bundle import to_fhir
from mappers.common import JsonDict
from tests.mappers.samples import FULL, MINIMAL

PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"
UNPROFILED = {"AllergyIntolerance"}  # the clinic has no profile for it: the base definition applies


@pytest.fixture(scope="module")
def validator() -> ProfileValidator:
    return ProfileValidator.from_directories([PROFILES_DIR])


def _resources() -> list[tuple[str, JsonDict]]:
    return [
        (f"{label}-{kind}-{index}-{resource['resourceType']}", resource)
        for label, records in (("full", FULL), ("minimal", MINIMAL))
        for kind, record in records.items()
        for index, resource in enumerate(to_fhir(record))
    ]


RESOURCES = _resources()


@pytest.mark.parametrize("resource", [item for _, item in RESOURCES], ids=[name for name, _ in RESOURCES])
def test_produced_resource_conforms_to_its_profile(validator: ProfileValidator, resource: JsonDict) -> None:
    claimed = resource.get("meta", {}).get("profile", [])
    if resource["resourceType"] in UNPROFILED:
        assert claimed == []
    else:
        assert len(claimed) == 1 and claimed[0].startswith(f"{terms.CANONICAL}/StructureDefinition/clinic-")
    issues = validator.validate(resource, profiles=claimed)
    errors = [issue for issue in issues if issue.severity in {"error", "fatal"}]
    assert errors == []
    assert [issue for issue in issues if issue.severity == "warning"] == []


def test_the_validator_would_catch_a_broken_one(validator: ProfileValidator) -> None:
    encounter = to_fhir(FULL["medical_record"])[0]
    del encounter["participant"]
    issues = validator.validate(encounter, profiles=encounter["meta"]["profile"])
    assert any(issue.severity == "error" and "participant" in issue.diagnostics for issue in issues)


def _definitions() -> dict[str, str]:
    found = {}
    for path in PROFILES_DIR.glob("*.json"):
        definition = orjson.loads(path.read_bytes())
        if "url" in definition:
            found[definition["url"]] = definition["resourceType"]
    return found


def test_every_canonical_constant_names_a_definition_in_profiles() -> None:
    definitions = _definitions()
    constants = {
        name: value for name, value in vars(terms).items() if name.isupper() and isinstance(value, str)
    }
    expected = {"PROFILE_": "StructureDefinition", "EXT_": "StructureDefinition", "CS_": "CodeSystem"}
    checked = 0
    for name, url in constants.items():
        for prefix, resource_type in expected.items():
            if name.startswith(prefix) and url.startswith(terms.CANONICAL):
                assert definitions.get(url) == resource_type, name
                checked += 1
    assert checked == 14 + 4 + 7
