"""Two patients' worth of data, written through the real API with a system token.

Patient A is the caller's patient in the compartment tests; everything about patient B must stay
invisible to A's tokens. ``World.b_secrets`` lists what must never appear in a response to A.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import unique

LAB_CATEGORY = "laboratory"
VITALS_CATEGORY = "vital-signs"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
LOINC = "http://loinc.org"
GLUCOSE = "2345-7"
HEART_RATE = "8867-4"
MRN_SYSTEM = "http://clinic.example.org/mrn"
OBSERVATION_IDS = "http://clinic.example.org/observation-id"


@dataclass
class PatientData:
    """One patient's resources: ``ids`` maps a label ("Observation-lab") to the logical id."""

    id: str
    family: str
    given: str
    mrn: str
    obs_identifier: str  # identifier value of the lab Observation
    ids: dict[str, str] = field(default_factory=dict)

    def ref(self) -> str:
        return f"Patient/{self.id}"


@dataclass
class World:
    a: PatientData
    b: PatientData
    cross_observation: str  # A's Observation naming B as performer (an include-escape attempt)

    def b_secrets(self) -> list[str]:
        """Values about B that no response to A may contain (ids of B's resources included)."""
        return [self.b.family, self.b.given, self.b.mrn, self.b.obs_identifier, *self.b.ids.values()]


def observation(patient: str, category: str, code: str, identifier: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": patient},
        "valueQuantity": {"value": 5.4, "unit": "mmol/L"},
    }
    if identifier:
        body["identifier"] = [{"system": OBSERVATION_IDS, "value": identifier}]
    return body


def _patient_resources(patient: PatientData, hour: int) -> dict[str, dict[str, Any]]:
    ref = patient.ref()
    document = base64.b64encode(f"Discharge letter {unique('doc')}".encode()).decode()
    return {
        "Observation-lab": observation(ref, LAB_CATEGORY, GLUCOSE, patient.obs_identifier),
        "Observation-vitals": observation(ref, VITALS_CATEGORY, HEART_RATE),
        "Encounter": {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": ref},
        },
        "Condition": {
            "resourceType": "Condition",
            "code": {"text": "Seasonal allergy"},
            "subject": {"reference": ref},
        },
        "Appointment": {
            "resourceType": "Appointment",
            "status": "booked",
            "start": f"2031-03-04T{hour:02d}:00:00Z",
            "end": f"2031-03-04T{hour:02d}:30:00Z",
            "participant": [{"actor": {"reference": ref}, "status": "accepted"}],
        },
        "DocumentReference": {
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": {"reference": ref},
            "content": [{"attachment": {"contentType": "text/plain", "data": document}}],
        },
    }


async def _create(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await http.post(f"/{body['resourceType']}", json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def _seed_patient(http: httpx.AsyncClient, label: str, hour: int) -> PatientData:
    family, given, mrn = unique(f"Family{label}"), unique(f"Given{label}"), unique(f"MRN{label}")
    created = await _create(
        http,
        {
            "resourceType": "Patient",
            "name": [{"family": family, "given": [given]}],
            "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
        },
    )
    patient = PatientData(created["id"], family, given, mrn, unique(f"OBS{label}"))
    for name, body in _patient_resources(patient, hour).items():
        stored = await _create(http, body)
        patient.ids[name] = stored["id"]
        if name == "DocumentReference":
            url = stored["content"][0]["attachment"]["url"]
            patient.ids["Binary"] = url.rsplit("/", 1)[-1]
    return patient


async def seed_world(http: httpx.AsyncClient) -> World:
    """Create A's and B's data; ``http`` must carry a token allowed to write everything."""
    a = await _seed_patient(http, "A", 9)
    b = await _seed_patient(http, "B", 10)
    cross = observation(a.ref(), VITALS_CATEGORY, HEART_RATE)
    cross["performer"] = [{"reference": b.ref()}]
    cross_id = (await _create(http, cross))["id"]
    return World(a=a, b=b, cross_observation=cross_id)
