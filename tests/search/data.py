"""A small linked data set: organizations, practitioners, patients, observations, encounters, provenance."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"


def ref(target: str) -> dict[str, str]:
    return {"reference": target}


def observation(oid: str, subject: str, code: str, **rest: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": ref(subject),
        **rest,
    }


LINKED: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "org1", "name": "Good Health Clinic"},
    {"resourceType": "Organization", "id": "org2", "name": "Other Org", "partOf": ref("Organization/org1")},
    {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Smith", "given": ["Jane"]}]},
    {
        "resourceType": "Patient",
        "id": "pa",
        "name": [{"family": "Chalmers", "given": ["Peter"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
        "managingOrganization": ref("Organization/org1"),
        "generalPractitioner": [ref("Practitioner/dr1")],
    },
    {
        "resourceType": "Patient",
        "id": "pb",
        "name": [{"family": "Baker", "given": ["Anna"]}],
        "gender": "female",
        "birthDate": "1980-01-01",
        "managingOrganization": ref("Organization/org2"),
    },
    {
        "resourceType": "Patient",
        "id": "pc",
        "name": [{"family": "Parker", "given": ["Peter"]}],
        "gender": "male",
    },
    observation(
        "o1", "Patient/pa", "1234-5", encounter=ref("Encounter/e1"), performer=[ref("Practitioner/dr1")]
    ),
    observation("o2", "Patient/pb", "1234-5"),
    observation("o3", "Patient/pc", "9999-9"),
    observation("o4", "Group/g1", "1234-5"),
    {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": ref("Patient/pa"),
        "participant": [{"individual": ref("Practitioner/dr1")}],
    },
    {
        "resourceType": "Provenance",
        "id": "prov1",
        "target": [ref("Observation/o1")],
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"who": ref("Practitioner/dr1")}],
    },
]
