"""The indexer: compiled FHIRPath, entries per type, compartments, our own absolute URLs, Synthea data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.interactions.operation import Level
from fhir_server.operations.reindex import OPERATIONS
from fhir_server.search import fields as f
from fhir_server.search.fhirpath import compile_expression
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.indexes import MAX_INDEXES, RESERVED, index_models
from tests.search.conftest import BASE

SHARED = Path(__file__).resolve().parents[3] / "shared"

OBS: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
    "subject": {"reference": "Patient/p1"},
    "performer": [{"reference": f"{BASE}/Practitioner/dr1"}, {"reference": "RelatedPerson/rp1"}],
    "encounter": {"reference": "Encounter/e1"},
    "effectivePeriod": {"start": "2020-01-01", "end": "2020-01-02"},
    "valueQuantity": {"value": 5, "unit": "mg"},
    "extension": [{"url": "http://x/ext", "valueString": "hello"}],
    "component": [
        {"code": {"text": "a"}, "valueString": "s1"},
        {"code": {"text": "b"}, "valueBoolean": True},
    ],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Observation.status", ["final"]),
        ("Observation.code.coding.code", ["1234-5"]),
        ("Observation.effective", [{"start": "2020-01-01", "end": "2020-01-02"}]),
        ("Observation.value as Quantity", [{"value": 5, "unit": "mg"}]),
        ("(Observation.value as Quantity).unit", ["mg"]),
        ("Observation.value.as(Quantity).value", [5]),
        ("Observation.value as string", []),
        ("Observation.component.value.ofType(string)", ["s1"]),
        ("Observation.component.value", ["s1", True]),
        ("Observation.subject.where(resolve() is Patient)", [{"reference": "Patient/p1"}]),
        ("Observation.subject.where(resolve() is Group)", []),
        ("Observation.performer.where(resolve() is Practitioner).reference", [f"{BASE}/Practitioner/dr1"]),
        # a dotted where() is not compiled: fhirpathpy answers
        ("Observation.component.where(code.text = 'b')", [{"code": {"text": "b"}, "valueBoolean": True}]),
        ("Observation.component[1].value", [True]),
        ("Observation.extension('http://x/ext').value", ["hello"]),
        ("Observation.status | Observation.subject.reference", ["final", "Patient/p1"]),
        ("Resource.id", ["o1"]),
        ("Observation.code.exists() and Observation.status = 'final'", [True]),  # fhirpathpy fallback
    ],
)
def test_compiled_paths(expression: str, expected: list[Any]) -> None:
    assert compile_expression(expression)(OBS) == expected


def test_where_equality() -> None:
    patient = {
        "resourceType": "Patient",
        "telecom": [{"system": "email", "value": "a@b"}, {"system": "phone", "value": "1"}],
    }
    assert compile_expression("Patient.telecom.where(system='email')")(patient) == [
        {"system": "email", "value": "a@b"}
    ]


def test_extract_layout(indexer: SearchIndexer) -> None:
    ix = indexer.extract(OBS)
    assert set(ix["code"]) >= {"1234-5", "http://loinc.org|1234-5", "http://loinc.org|"}
    assert ix["subject"] == ["Patient/p1"] and ix["patient"] == ["Patient/p1"]
    assert "Practitioner/dr1" in ix["performer"]  # our own absolute URL stored relative
    assert ix["date" + f.LOW][0].isoformat() == "2020-01-01T00:00:00+00:00"
    assert ix["date" + f.HIGH][0].isoformat() == "2020-01-02T23:59:59.999000+00:00"
    assert "2020-01" in ix["date"] and "2020-01-01" not in ix["date"]
    assert "X:5" in ix["value-quantity"] and "X:5#|mg" in ix["value-quantity"]
    assert "_id" not in ix and "_lastUpdated" not in ix


def test_compartments(indexer: SearchIndexer) -> None:
    assert sorted(indexer.compartments(OBS)) == [
        "Encounter/e1",
        "Patient/p1",
        "Practitioner/dr1",
        "RelatedPerson/rp1",
    ]
    assert indexer.compartments(
        {"resourceType": "Patient", "id": "p9", "link": [{"other": {"reference": "Patient/p8"}}]}
    ) == ["Patient/p9", "Patient/p8"]
    assert indexer.compartments({"resourceType": "Organization", "id": "org"}) == []
    assert indexer.compartments({"resourceType": "Encounter", "id": "e"}) == ["Encounter/e"]


def test_bad_values_are_skipped_not_fatal(indexer: SearchIndexer) -> None:
    odd = {
        "resourceType": "Observation",
        "id": "x",
        "status": 5,
        "effectiveDateTime": "not a date",
        "valueQuantity": {"value": "abc"},
        "subject": {"reference": "#contained"},
        "code": "wrong shape",
    }
    ix = indexer.extract(odd)
    assert "date" not in ix and "value-quantity" not in ix and "subject" not in ix


def test_index_models_fit_every_type(registry: ConformanceRegistry) -> None:
    for resource_type in registry.resource_types():
        models = index_models(registry, resource_type)
        names = [m.document["name"] for m in models]
        assert len(names) == len(set(names))
        assert len(models) <= MAX_INDEXES - RESERVED
    observation = {m.document["name"] for m in index_models(registry, "Observation")}
    assert {"comp", "ix_subject", "ix_code", "ix_date_lo", "ix_date_hi", "ix_value-quantity"} <= observation


def test_reindex_operation_is_declared() -> None:
    (spec,) = OPERATIONS
    assert spec.name == "reindex" and spec.affects_state
    assert spec.levels == frozenset({Level.SYSTEM, Level.TYPE})
    assert spec.definition["code"] == "reindex"


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="the shared Synthea data is not present")
def test_indexes_a_synthea_bundle(indexer: SearchIndexer) -> None:
    path = sorted((SHARED / "data" / "synthea-2019").glob("*.json.gz"))[0]
    bundle = json.loads(gzip.decompress(path.read_bytes()))
    resources = [entry["resource"] for entry in bundle["entry"]]
    for resource in resources:
        ix = indexer.extract(resource)
        if resource["resourceType"] == "Observation":
            assert ix["code"] and ix["subject"] and ix["status"]
        if resource["resourceType"] == "Patient":
            assert (
                ix["name"]
                and ix["birthdate"]
                and indexer.compartments(resource) == [f"Patient/{resource['id']}"]
            )
