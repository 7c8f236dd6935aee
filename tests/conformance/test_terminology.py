"""Value set membership and ``$expand`` of the clinic's and the official enumerable value sets."""

from __future__ import annotations

import pytest

from fhir_server.conformance.profiles import ConformanceResources
from fhir_server.conformance.terminology import Terminology
from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import BadRequest, NotFound, Unprocessable

from .conftest import CLINIC, PROFILES

VS = f"{CLINIC}/ValueSet/"
CS = f"{CLINIC}/CodeSystem/"
CLINIC_VALUE_SETS = sorted(
    vs["url"] for vs in ConformanceResources.from_directories([PROFILES]).all_by_type("ValueSet")
)


@pytest.mark.parametrize("url", CLINIC_VALUE_SETS, ids=[u.rpartition("/")[2] for u in CLINIC_VALUE_SETS])
def test_every_clinic_value_set_expands(url: str, validator: ProfileValidator) -> None:
    expanded = validator.expand_valueset(url)
    assert expanded["resourceType"] == "ValueSet"
    assert expanded["url"] == url
    assert "compose" not in expanded
    expansion = expanded["expansion"]
    assert expansion["total"] == len(expansion["contains"]) > 0
    assert expansion["identifier"].startswith("urn:uuid:")
    assert all({"system", "code", "display"} <= set(c) for c in expansion["contains"])
    codes = [(c["system"], c["code"]) for c in expansion["contains"]]
    assert len(codes) == len(set(codes))


def test_whole_code_system_includes_nested_concepts(validator: ProfileValidator) -> None:
    code_system = validator.resources.by_url(f"{CS}clinic-specialty")
    assert code_system is not None
    expanded = validator.expand_valueset(f"{VS}clinic-specialty")
    assert expanded["expansion"]["total"] == code_system["count"]
    assert "cardiology" in {c["code"] for c in expanded["expansion"]["contains"]}


def test_is_a_filter_selects_a_concept_and_its_descendants(validator: ProfileValidator) -> None:
    expanded = validator.expand_valueset(f"{VS}clinic-surgical-specialty")
    codes = {c["code"] for c in expanded["expansion"]["contains"]}
    assert codes == {"surgery", "general-surgery", "orthopedic-surgery", "plastic-surgery"}


def test_text_filter_and_paging(validator: ProfileValidator) -> None:
    filtered = validator.expand_valueset(f"{VS}clinic-expense-category", text_filter="SUPP")
    assert [c["code"] for c in filtered["expansion"]["contains"]] == ["supplies"]
    assert {"name": "filter", "valueString": "SUPP"} in filtered["expansion"]["parameter"]
    page = validator.expand_valueset(f"{VS}clinic-expense-category", count=3, offset=2)
    assert page["expansion"]["total"] == 10
    assert page["expansion"]["offset"] == 2
    assert [c["code"] for c in page["expansion"]["contains"]] == ["supplies", "equipment", "utilities"]


def test_official_required_value_sets_expand(validator: ProfileValidator) -> None:
    expanded = validator.expand_valueset("http://hl7.org/fhir/ValueSet/administrative-gender|4.3.0")
    assert {c["code"] for c in expanded["expansion"]["contains"]} == {"male", "female", "other", "unknown"}


def test_unknown_and_external_value_sets(validator: ProfileValidator) -> None:
    with pytest.raises(NotFound):
        validator.expand_valueset(f"{VS}nope")
    with pytest.raises(Unprocessable):
        validator.expand_valueset("http://hl7.org/fhir/ValueSet/mimetypes")
    with pytest.raises(BadRequest):
        validator.expand_valueset(f"{VS}clinic-staff-role", offset=-1)


def test_membership_of_codings_and_codes(validator: ProfileValidator) -> None:
    roles = validator.terminology.expansion(f"{VS}clinic-staff-role")
    assert roles is not None
    assert roles.has_coding(f"{CS}clinic-staff-role", "doctor")
    assert not roles.has_coding(f"{CS}clinic-specialty", "doctor")
    assert not roles.has_coding(None, "doctor")
    assert roles.has_code("nurse") and not roles.has_code("janitor")


def test_media_types_ignore_parameters_and_case(validator: ProfileValidator) -> None:
    images = validator.terminology.expansion(f"{VS}clinic-image-content-type")
    assert images is not None
    assert images.has_code("Image/JPEG; quality=90")
    assert images.has_coding("urn:ietf:bcp:13", "image/png")
    assert not images.has_code("text/html")


def test_known_codes_of_clinic_code_systems(validator: ProfileValidator) -> None:
    assert validator.terminology.is_known_code(f"{CS}clinic-income-source", "donation") is True
    assert validator.terminology.is_known_code(f"{CS}clinic-income-source", "lottery") is False
    assert validator.terminology.is_known_code("http://loinc.org", "1234-5") is None


def test_compose_with_exclude_value_set_include_and_unknown_filter() -> None:
    code_system = {
        "resourceType": "CodeSystem",
        "url": "urn:cs",
        "content": "complete",
        "concept": [{"code": "a", "concept": [{"code": "a1"}, {"code": "a2"}]}, {"code": "b"}],
    }
    value_sets = [
        {"resourceType": "ValueSet", "url": "urn:all", "compose": {"include": [{"system": "urn:cs"}]}},
        {
            "resourceType": "ValueSet",
            "url": "urn:below-a",
            "compose": {
                "include": [
                    {
                        "system": "urn:cs",
                        "filter": [{"property": "concept", "op": "descendent-of", "value": "a"}],
                    }
                ]
            },
        },
        {
            "resourceType": "ValueSet",
            "url": "urn:not-a2",
            "compose": {
                "include": [{"valueSet": ["urn:all"]}],
                "exclude": [{"system": "urn:cs", "concept": [{"code": "a2"}]}],
            },
        },
        {
            "resourceType": "ValueSet",
            "url": "urn:regex",
            "compose": {
                "include": [
                    {"system": "urn:cs", "filter": [{"property": "concept", "op": "regex", "value": "a.*"}]}
                ]
            },
        },
        {"resourceType": "ValueSet", "url": "urn:loop", "compose": {"include": [{"valueSet": ["urn:loop"]}]}},
    ]
    terminology = Terminology(ConformanceResources([code_system, *value_sets]))

    def codes(url: str) -> set[str] | None:
        expansion = terminology.expansion(url)
        return None if expansion is None else {c.code for c in expansion.concepts}

    assert codes("urn:all") == {"a", "a1", "a2", "b"}
    assert codes("urn:below-a") == {"a1", "a2"}
    assert codes("urn:not-a2") == {"a", "a1", "b"}
    assert codes("urn:regex") is None
    assert codes("urn:loop") is None
