"""Base rules of the R4B specification on every resource, profile or not: cardinality, required
bindings, invariants, reference targets, narrative, attachments, core extensions, bundles."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from fhir_server.conformance.validator import ProfileValidator

from .conftest import errors

JsonDict = dict[str, Any]
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'
OBSERVATION: JsonDict = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}


def narrative(div: str) -> JsonDict:
    return {"resourceType": "Patient", "text": {"status": "generated", "div": div}}


def attachment(data: bytes, **stated: Any) -> JsonDict:
    return {
        "resourceType": "Media",
        "status": "completed",
        "content": {"contentType": "text/plain", "data": base64.b64encode(data).decode(), **stated},
    }


def document(*entries: JsonDict) -> JsonDict:
    return {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
        },
        "timestamp": "2024-01-01T10:00:00Z",
        "entry": list(entries),
    }


COMPOSITION: JsonDict = {
    "fullUrl": "urn:uuid:6b1b8bd2-7e53-4bd2-9d42-7f4a3ab5a2b0",
    "resource": {
        "resourceType": "Composition",
        "status": "final",
        "type": {"text": "note"},
        "date": "2024-01-01",
        "author": [{"display": "Dr A"}],
        "title": "Note",
        "subject": {"reference": "urn:uuid:1f3b3e6e-4f4c-4f57-9d6a-2b1f9f8f0a11"},
    },
}
PATIENT_ENTRY: JsonDict = {
    "fullUrl": "urn:uuid:1f3b3e6e-4f4c-4f57-9d6a-2b1f9f8f0a11",
    "resource": {"resourceType": "Patient", "id": "p1"},
}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "gender": "banana"}, [("code-invalid", "Patient.gender")]),
        ({**OBSERVATION, "status": "not-a-status"}, [("code-invalid", "Observation.status")]),
        ({"resourceType": "Observation", "code": {"text": "x"}}, [("required", "Observation.status")]),
        ({**OBSERVATION, "subject": {"reference": "Appointment/1"}}, [("structure", "Observation.subject")]),
        (
            {
                "resourceType": "RiskAssessment",
                "status": "final",
                "subject": {"reference": "Patient/1"},
                "prediction": [{"probabilityDecimal": 101}],
            },
            [("invariant", "RiskAssessment.prediction[0]")],
        ),  # ras-2: probability at most 100
        (
            {**OBSERVATION, "valueQuantity": {"value": 1, "code": "kg"}},
            [("invariant", "Observation.value.ofType(Quantity)")],
        ),
        (
            {**OBSERVATION, "effectivePeriod": {"start": "2024-02-01", "end": "2024-01-01"}},
            [("invariant", "Observation.effective.ofType(Period)")],
        ),  # per-1
        (narrative(f"<div {XHTML}><script>alert(1)</script>x</div>"), [("value", "Patient.text.div")]),
        (narrative(f'<div {XHTML}><p onclick="x()">x</p></div>'), [("value", "Patient.text.div")]),
        (narrative(f"<div {XHTML}>a&nbsp;b</div>"), [("value", "Patient.text.div")]),
        (
            narrative(f'<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><div {XHTML}>&e;</div>'),
            [("value", "Patient.text.div")],
        ),
        (narrative(f"<div {XHTML}><iframe/>x</div>"), [("value", "Patient.text.div")]),
        (narrative("<div>no namespace</div>"), [("value", "Patient.text.div")]),
        (attachment(b"hello", size=6), [("structure", "Media.content.size")]),
        (
            attachment(b"hello", hash=base64.b64encode(hashlib.sha1(b"other").digest()).decode()),
            [("structure", "Media.content.hash")],
        ),
        (
            {
                "resourceType": "Patient",
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                        "valueDateTime": "2020-01-01T00:00:00Z",
                    }
                ],
            },
            [("structure", "Patient.extension[0]")],
        ),  # context: Patient.birthDate only
        (
            {
                "resourceType": "Patient",
                "birthDate": "2020-01-01",
                "_birthDate": {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                            "valueString": "7am",
                        }
                    ]
                },
            },
            [("structure", "Patient.birthDate.extension[0].value.ofType(string)")],
        ),  # value type: dateTime only
        (document(COMPOSITION), [("not-found", "Bundle.entry[0].resource.subject.reference")]),
        (
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"fullUrl": "Patient/1", "resource": {"resourceType": "Patient", "id": "1"}}],
            },
            [("invalid", "Bundle.entry[0].fullUrl")],
        ),  # relative fullUrl
        (
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "fullUrl": "http://x.org/fhir/Patient/1",
                        "resource": {"resourceType": "Patient", "id": "2"},
                    }
                ],
            },
            [("invalid", "Bundle.entry[0].fullUrl")],
        ),  # fullUrl and id disagree
        (
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {"resource": {"resourceType": "Patient", "id": "1"}},
                    {"resource": {"resourceType": "Patient", "id": "1"}},
                ],
            },
            [("invalid", "Bundle.entry[1].resource.id")],
        ),  # duplicate ids
    ],
)
def test_base_rule_failures(
    validator: ProfileValidator, resource: JsonDict, expected: list[tuple[str, str]]
) -> None:
    found = errors(validator.validate(resource))
    assert [f for f in found if f[0] != "invariant" or "bdl" not in f[1]] == expected


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "gender": "other"},
        {**OBSERVATION, "valueQuantity": {"value": 1, "code": "kg", "system": "http://unitsofmeasure.org"}},
        narrative(f'<div {XHTML}><p class="x">a&#160;&amp;b <a href="http://x.org">l</a></p></div>'),
        narrative(f'<div {XHTML}><img src="#i" alt="i"/></div>'),
        attachment(b"hello", size=5, hash=base64.b64encode(hashlib.sha1(b"hello").digest()).decode()),
        {
            "resourceType": "Patient",
            "birthDate": "2020-01-01",
            "_birthDate": {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                        "valueDateTime": "2020-01-01T07:00:00Z",
                    }
                ]
            },
        },
        {"resourceType": "Patient", "extension": [{"url": "http://example.org/unknown", "valueString": "x"}]},
        document(COMPOSITION, PATIENT_ENTRY),
    ],
)
def test_base_rule_passes(validator: ProfileValidator, resource: JsonDict) -> None:
    assert errors(validator.validate(resource)) == []
