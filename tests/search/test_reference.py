"""Reference search: Type/id, id, absolute URLs (ours index as relative), :Type, :identifier, :missing,
canonical references, and where(resolve() is X) expressions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.search.conftest import BASE, Store

RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Observation", "id": "o-rel", "subject": {"reference": "Patient/123"}},
    {"resourceType": "Observation", "id": "o-abs-ours", "subject": {"reference": f"{BASE}/Patient/456"}},
    {
        "resourceType": "Observation",
        "id": "o-abs-other",
        "subject": {"reference": "http://elsewhere.example/fhir/Patient/123"},
    },
    {"resourceType": "Observation", "id": "o-group", "subject": {"reference": "Group/123"}},
    {"resourceType": "Observation", "id": "o-versioned", "subject": {"reference": "Patient/789/_history/2"}},
    {
        "resourceType": "Observation",
        "id": "o-ident",
        "subject": {"identifier": {"system": "http://clinic.example/mrn", "value": "M-1"}},
    },
    {"resourceType": "Observation", "id": "o-none", "status": "final"},
]


@pytest.fixture
async def loaded(store: Store) -> Store:
    await store.put(*RESOURCES)
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("subject=Patient/123", ["o-rel"]),
        ("subject=123", ["o-group", "o-rel"]),  # any target type
        ("subject:Patient=123", ["o-rel"]),
        ("subject:Group=123", ["o-group"]),
        ("subject=Patient/456", ["o-abs-ours"]),  # our own absolute URL is stored relative
        (f"subject={BASE}/Patient/456", ["o-abs-ours"]),
        (f"subject={BASE}/Patient/123", ["o-rel"]),
        ("subject=http://elsewhere.example/fhir/Patient/123", ["o-abs-other"]),
        ("subject=Patient/789", ["o-versioned"]),
        ("subject=Patient/789/_history/2", ["o-versioned"]),
        ("patient=123", ["o-rel"]),  # patient = subject.where(resolve() is Patient)
        ("patient=Patient/456", ["o-abs-ours"]),
        ("subject:identifier=http://clinic.example/mrn|M-1", ["o-ident"]),
        ("subject:identifier=M-1", ["o-ident"]),
        ("subject:identifier=http://other|M-1", []),
        ("subject:missing=true", ["o-none"]),
        ("subject=Patient/123,Group/123", ["o-group", "o-rel"]),
    ],
)
async def test_reference_matching(loaded: Store, query: str, expected: list[str]) -> None:
    assert await loaded.ids("Observation", query) == expected


async def test_patient_param_excludes_group_subjects(loaded: Store) -> None:
    assert "o-group" not in await loaded.ids("Observation", "patient:missing=false")


async def test_canonical_reference_with_and_without_version(store: Store) -> None:
    await store.put(
        {
            "resourceType": "CarePlan",
            "id": "cp",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": "Patient/1"},
            "instantiatesCanonical": ["http://clinic.example/PlanDefinition/diabetes|2.0"],
        }
    )
    assert await store.ids(
        "CarePlan", "instantiates-canonical=http://clinic.example/PlanDefinition/diabetes"
    ) == ["cp"]
    assert await store.ids(
        "CarePlan", "instantiates-canonical=http://clinic.example/PlanDefinition/diabetes|2.0"
    ) == ["cp"]
