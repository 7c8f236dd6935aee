"""The search registry against the official R4B definitions (the shared reference copy)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_server.conformance.registry import ConformanceRegistry, narrow_expression

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "fhir-r4b-definitions"
ROOT = Path(__file__).resolve().parents[2]
COMMON = ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_has")

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="the shared reference definitions are absent")


@pytest.fixture(scope="module")
def registry() -> ConformanceRegistry:
    return ConformanceRegistry.create(profile_dirs=[])


def _reference_parameters() -> list[dict[str, Any]]:
    bundle = json.loads((REFERENCE / "SearchParameters-subset.bundle.json").read_text())
    return [
        e["resource"]
        for e in bundle["entry"]
        if not e["resource"]["id"].startswith("example")
        and e["resource"].get("expression")
        and e["resource"]["type"] != "special"  # Location.near (geo search) is not offered
    ]


def test_resource_types(registry: ConformanceRegistry) -> None:
    schema = json.loads(gzip.decompress((REFERENCE / "fhir.schema.json.gz").read_bytes()))
    assert registry.resource_types() == sorted(schema["discriminator"]["mapping"])
    assert len(registry.resource_types()) == 141
    assert registry.is_resource_type("Observation") and not registry.is_resource_type("Observations")


@pytest.mark.parametrize("reference", _reference_parameters(), ids=lambda r: r["id"])
def test_parameters_match_the_reference(registry: ConformanceRegistry, reference: dict[str, Any]) -> None:
    for base in reference["base"]:
        resource_type = "Patient" if base in ("Resource", "DomainResource") else base
        declared = registry.search_parameter(resource_type, reference["code"])
        assert declared is not None, f"{base}.{reference['code']} is missing"
        assert declared.type == reference["type"]
        assert declared.url == reference["url"]
        assert declared.expression == narrow_expression(reference["expression"], resource_type)
        assert sorted(declared.targets) == sorted(reference.get("target", []))
        assert [c.definition for c in declared.components] == [
            c["definition"] for c in reference.get("component", [])
        ]
        if reference["type"] in ("date", "number", "quantity"):
            assert set(declared.comparators) == {"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}


def test_narrowed_multi_base_expression(registry: ConformanceRegistry) -> None:
    patient = registry.search_parameter("Observation", "patient")
    assert patient is not None and patient.expression == "Observation.subject.where(resolve() is Patient)"
    assert registry.search_parameter("Condition", "code") is not None


def test_common_and_system_parameters(registry: ConformanceRegistry) -> None:
    for resource_type in ("Patient", "Observation", "Binary", "Bundle"):
        codes = {p.code for p in registry.search_parameters(resource_type)}
        assert set(COMMON) <= codes
        assert not codes & {"_text", "_content", "_filter", "_query", "_list"}
    assert {p.code for p in registry.system_search_parameters()} >= {"_id", "_lastUpdated", "_type", "_tag"}
    assert len(registry.search_parameters("Observation")) > 40


@pytest.mark.parametrize("name", ["patient", "encounter", "practitioner", "relatedPerson", "device"])
def test_compartments_match_the_reference(registry: ConformanceRegistry, name: str) -> None:
    definition = json.loads((REFERENCE / f"CompartmentDefinition-{name}.json").read_text())
    for member in definition["resource"]:
        expected = [p for p in member.get("param", []) if p != "{def}"]
        assert registry.compartment_params(definition["code"], member["code"]) == expected
    assert registry.compartment_params(name, "Observation") == registry.compartment_params(
        definition["code"], "Observation"
    )


def test_summary_elements(registry: ConformanceRegistry) -> None:
    assert {"name", "birthDate", "identifier", "deceased"} <= registry.summary_elements("Patient")
    assert "photo" not in registry.summary_elements("Patient")
    assert registry.mandatory_elements("Observation") == frozenset({"status", "code"})
    for resource_type in registry.resource_types():
        assert registry.summary_elements(resource_type), resource_type


def test_custom_parameter(registry: ConformanceRegistry) -> None:
    custom = ConformanceRegistry.create(profile_dirs=[])
    before = custom.version
    custom.add_search_parameter(
        {
            "resourceType": "SearchParameter",
            "url": "http://clinic.example/SearchParameter/nickname",
            "code": "nickname",
            "base": ["Patient", "RelatedPerson"],
            "type": "string",
            "expression": "Patient.name.where(use='nickname') | RelatedPerson.name.where(use='nickname')",
        }
    )
    assert custom.version == before + 1
    declared = custom.search_parameter("RelatedPerson", "nickname")
    assert declared is not None and declared.custom
    assert declared.expression == "RelatedPerson.name.where(use='nickname')"
    assert registry.search_parameter("Patient", "nickname") is None  # registries are independent


def test_shipped_profiles_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "sp.json").write_text(
        json.dumps(
            {
                "resourceType": "SearchParameter",
                "code": "shoe-size",
                "base": ["Patient"],
                "type": "number",
                "expression": "Patient.extension('http://x/shoe').value",
                "url": "http://x/sp",
            }
        )
    )
    (tmp_path / "other.json").write_text(json.dumps({"resourceType": "ValueSet"}))
    registry = ConformanceRegistry.create(profile_dirs=[tmp_path])
    assert registry.search_parameter("Patient", "shoe-size") is not None


def test_generator_fallback_writes_spec_files(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import generate_spec
    finally:
        sys.path.pop(0)
    generate_spec.generate(None, tmp_path)
    written = json.loads(gzip.decompress((tmp_path / "search_parameters.json.gz").read_bytes()))
    # + the expression-less ones (_text, _filter ...) and Location.near
    assert len(written["parameters"]) == len(_reference_parameters()) + 12
    assert json.loads((tmp_path / "resource_types.json").read_text())[0] == "Account"
    assert "Patient" in json.loads((tmp_path / "compartments.json").read_text())
