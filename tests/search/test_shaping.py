"""_summary and _elements: shaping keeps id/meta/mandatory elements and tags SUBSETTED."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.errors import BadRequest
from fhir_server.search.shaping import SUBSETTED, parse_elements, parse_summary, shape_resource
from tests.search.conftest import Store

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {"versionId": "1", "tag": [{"code": "vip"}]},
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Peter</div>'},
    "name": [{"family": "Chalmers"}],
    "birthDate": "1974-12-25",
    "_birthDate": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]},
    "deceasedBoolean": False,
    "maritalStatus": {"text": "married"},
    "photo": [{"contentType": "image/png"}],
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"text": "x"},
    "note": [{"text": "long note"}],
    "valueString": "v",
}


def shape(resource: dict[str, Any], registry: ConformanceRegistry, **kw: Any) -> dict[str, Any]:
    kw.setdefault("summary", None)
    kw.setdefault("elements", None)
    return shape_resource(resource, registry=registry, **kw)


def test_summary_true(registry: ConformanceRegistry) -> None:
    shaped = shape(PATIENT, registry, summary="true")
    assert set(shaped) == {"resourceType", "id", "meta", "name", "birthDate", "_birthDate", "deceasedBoolean"}
    assert shaped["meta"]["tag"] == [{"code": "vip"}, SUBSETTED]
    assert PATIENT["meta"]["tag"] == [{"code": "vip"}]  # input untouched


def test_summary_text_data_false(registry: ConformanceRegistry) -> None:
    assert set(shape(PATIENT, registry, summary="text")) == {"resourceType", "id", "meta", "text"}
    assert set(shape(OBSERVATION, registry, summary="text")) == {
        "resourceType",
        "id",
        "meta",
        "status",
        "code",
    }
    data = shape(PATIENT, registry, summary="data")
    assert "text" not in data and "photo" in data and SUBSETTED in data["meta"]["tag"]
    assert shape(PATIENT, registry, summary="false") is PATIENT


def test_elements_keep_mandatory(registry: ConformanceRegistry) -> None:
    shaped = shape(OBSERVATION, registry, elements=["note"])
    assert set(shaped) == {"resourceType", "id", "meta", "note", "status", "code"}
    assert shaped["meta"]["tag"] == [SUBSETTED]
    assert set(shape(PATIENT, registry, elements=["deceased", "birthDate"])) == {
        "resourceType",
        "id",
        "meta",
        "deceasedBoolean",
        "birthDate",
        "_birthDate",
    }


def test_parsing() -> None:
    assert parse_elements("name,Patient.birthDate") == ["name", "birthDate"]
    assert parse_summary("count") == "count"
    for bad in ("", "name,,x", "na me", "Patient.", "1x"):
        with pytest.raises(BadRequest):
            parse_elements(bad)
    with pytest.raises(BadRequest):
        parse_summary("yes")


async def test_search_shapes_matches_and_includes(store: Store) -> None:
    await store.put(
        {**PATIENT, "managingOrganization": {"reference": "Organization/org"}},
        {"resourceType": "Organization", "id": "org", "name": "Org", "telecom": [{"value": "1"}]},
    )
    bundle = await store.search("Patient", "_elements=name&_include=Patient:organization")
    patient, organization = (e["resource"] for e in bundle["entry"])
    assert set(patient) == {"resourceType", "id", "meta", "name"}
    assert set(organization) == {"resourceType", "id", "meta", "name"}  # telecom dropped
    assert SUBSETTED in organization["meta"]["tag"]
    summary = await store.search("Patient", "_summary=true")
    assert "photo" not in summary["entry"][0]["resource"]
