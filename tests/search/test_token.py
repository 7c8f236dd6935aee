"""Token search: codes, system|code, |code, system|, :not, :text, :of-type, :missing, booleans,
identifiers, ContactPoints, plain codes and _id."""

from __future__ import annotations

from typing import Any

import pytest

from tests.search.conftest import Store

LOINC = "http://loinc.org"
MRN = "http://clinic.example/mrn"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"

RESOURCES: list[dict[str, Any]] = [
    {
        "resourceType": "Observation",
        "id": "weight",
        "status": "final",
        "code": {
            "coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}],
            "text": "Weight",
        },
    },
    {
        "resourceType": "Observation",
        "id": "height",
        "status": "preliminary",
        "code": {"coding": [{"system": LOINC, "code": "8302-2", "display": "Body height"}]},
    },
    {
        "resourceType": "Observation",
        "id": "local",
        "status": "final",
        "code": {"coding": [{"code": "29463-7"}], "text": "Gewicht (lokal)"},
    },
    {"resourceType": "Observation", "id": "nocode", "status": "cancelled", "code": {"text": "Unknown"}},
    {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "gender": "female",
        "identifier": [
            {
                "system": MRN,
                "value": "A-100",
                "type": {"coding": [{"system": V2, "code": "MR"}], "text": "Medical record number"},
            },
            {"value": "no-system-7"},
        ],
        "telecom": [
            {"system": "phone", "value": "555-0100"},
            {"system": "email", "value": "ann@example.org"},
        ],
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "active": False,
        "gender": "male",
        "identifier": [{"system": "http://other.example/ids", "value": "A-100"}],
    },
    {"resourceType": "Patient", "id": "p3", "gender": "other"},
]


@pytest.fixture
async def loaded(store: Store) -> Store:
    await store.put(*RESOURCES)
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("code=29463-7", ["local", "weight"]),  # any system
        (f"code={LOINC}|29463-7", ["weight"]),
        ("code=|29463-7", ["local"]),  # explicitly no system
        (f"code={LOINC}|", ["height", "weight"]),  # any code of the system
        (f"code={LOINC}|8302-2,{LOINC}|29463-7", ["height", "weight"]),
        ("code=http://snomed.info/sct|29463-7", []),
        ("status=final", ["local", "weight"]),
        ("status=final,cancelled", ["local", "nocode", "weight"]),
        ("status:not=final", ["height", "nocode"]),
        ("status:not=final,cancelled", ["height"]),
        ("code:text=weight", ["weight"]),  # CodeableConcept.text
        ("code:text=body", ["height", "weight"]),  # Coding.display
        ("code:text=GEWICHT", ["local"]),
        ("code:text=unknown", ["nocode"]),
        ("code:missing=true", []),
        ("code:missing=false", ["height", "local", "nocode", "weight"]),
        ("_id=weight", ["weight"]),
        ("_id=weight,height", ["height", "weight"]),
        ("_id:not=weight", ["height", "local", "nocode"]),
        ("code=29463-7&status=final", ["local", "weight"]),
        ("code=29463-7&status=preliminary", []),
    ],
)
async def test_observation_tokens(loaded: Store, query: str, expected: list[str]) -> None:
    assert await loaded.ids("Observation", query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("active=true", ["p1"]),
        ("active=false", ["p2"]),
        ("active:missing=true", ["p3"]),
        ("gender=female", ["p1"]),
        ("gender:not=female", ["p2", "p3"]),
        ("identifier=A-100", ["p1", "p2"]),
        (f"identifier={MRN}|A-100", ["p1"]),
        (f"identifier={MRN}|", ["p1"]),
        ("identifier=|no-system-7", ["p1"]),
        ("identifier=|A-100", []),
        (f"identifier:of-type={V2}|MR|A-100", ["p1"]),
        (f"identifier:of-type={V2}|MR|A-999", []),
        ("identifier:text=medical rec", ["p1"]),
        ("telecom=555-0100", ["p1"]),
        ("phone=555-0100", ["p1"]),
        ("email=555-0100", []),  # email only covers telecom.where(system='email')
        ("email=ann@example.org", ["p1"]),
        ("telecom=phone|555-0100", ["p1"]),
        ("telecom=email|555-0100", []),
    ],
)
async def test_patient_tokens(loaded: Store, query: str, expected: list[str]) -> None:
    assert await loaded.ids("Patient", query) == expected


async def test_tag_security_and_profile(store: Store) -> None:
    await store.put(
        {
            "resourceType": "Patient",
            "id": "tagged",
            "meta": {
                "tag": [{"system": "http://clinic.example/tags", "code": "vip"}],
                "security": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
                ],
                "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"],
                "source": "http://clinic.example/import#batch1",
            },
        },
        {"resourceType": "Patient", "id": "plain"},
    )
    assert await store.ids("Patient", "_tag=vip") == ["tagged"]
    assert await store.ids("Patient", "_tag=http://clinic.example/tags|vip") == ["tagged"]
    assert await store.ids("Patient", "_tag:not=vip") == ["plain"]
    assert await store.ids("Patient", "_security=R") == ["tagged"]
    assert await store.ids(
        "Patient", "_profile=http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
    ) == ["tagged"]
    assert await store.ids("Patient", "_source=http://clinic.example/import#batch1") == ["tagged"]
