"""Strict FHIR JSON (http://hl7.org/fhir/R4B/json.html): each rule with a body that must pass and
bodies that must fail, the issue code and the FHIRPath expression of each failure."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import InvalidResource
from fhir_server.jsonio import dump_json, parse_json

from .conftest import errors

JsonDict = dict[str, Any]


def patient(**elements: Any) -> JsonDict:
    return {"resourceType": "Patient", **elements}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (patient(active="true"), [("value", "Patient.active")]),
        (patient(active=1), [("value", "Patient.active")]),
        (patient(multipleBirthInteger="2"), [("value", "Patient.multipleBirth.ofType(integer)")]),
        (patient(multipleBirthInteger=Decimal("2.0")), [("value", "Patient.multipleBirth.ofType(integer)")]),
        (patient(multipleBirthInteger=2**31), [("value", "Patient.multipleBirth.ofType(integer)")]),
        (patient(active=None), [("structure", "Patient.active")]),
        (patient(name=[]), [("structure", "Patient.name")]),
        (patient(name=[{}]), [("structure", "Patient.name[0]")]),
        (patient(name=[None]), [("structure", "Patient.name[0]")]),
        (patient(name=[{"given": ["A", ""]}]), [("value", "Patient.name[0].given[1]")]),
        (patient(name={"family": "X"}), [("structure", "Patient.name")]),
        (patient(gender=["male"]), [("structure", "Patient.gender")]),
        (patient(name=[{"family": "A\u0000B"}]), [("value", "Patient.name[0].family")]),
        (patient(id="x" * 65), [("value", "Patient.id")]),
        (patient(id="a b"), [("value", "Patient.id")]),
        (patient(birthDate="2020-02-30"), [("value", "Patient.birthDate")]),
        (patient(birthDate="20200101"), [("value", "Patient.birthDate")]),
        (patient(deceasedDateTime="2020-01-01T10:00:00"), [("value", "Patient.deceased.ofType(dateTime)")]),
        (
            patient(photo=[{"contentType": "image/png", "data": "not base64!"}]),
            [("value", "Patient.photo[0].data")],
        ),
        (patient(name=[{"family": "x" * (1024 * 1024 + 1)}]), [("value", "Patient.name[0].family")]),
        (patient(favouriteColour="blue"), [("structure", "Patient.favouriteColour")]),
        (patient(_gender=[{"id": "a"}]), [("structure", "Patient.gender")]),
        (patient(_gender={"foo": 1}), [("structure", "Patient.gender.foo")]),
        (patient(_name={"id": "a"}), [("structure", "Patient.name")]),
        (patient(name=[{"given": ["A", "B"], "_given": [None]}]), [("structure", "Patient.name[0].given")]),
        (patient(name=[{"given": [None]}]), [("structure", "Patient.name[0].given[0]")]),
        (patient(contact=[{"name": {"family": 5}}]), [("value", "Patient.contact[0].name.family")]),
        ({"resourceType": "Nonsense"}, [("not-supported", "Nonsense.resourceType")]),
        ({"name": []}, [("required", "Resource.resourceType")]),
    ],
)
def test_invalid_json_is_refused_with_one_issue_per_problem(
    validator: ProfileValidator, resource: JsonDict, expected: list[tuple[str, str]]
) -> None:
    assert errors(validator.validate(resource)) == expected
    with pytest.raises(InvalidResource) as raised:
        validator.validate_for_write(resource)
    assert raised.value.status == 400
    assert [(i.code, i.expression[0]) for i in raised.value.issues() if i.severity == "error"] == expected


def test_valid_json_passes_unchanged(validator: ProfileValidator) -> None:
    resource = patient(
        id="p-1",
        active=True,
        gender="female",
        birthDate="1970-01-01",
        _birthDate={
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                    "valueDateTime": "1970-01-01T07:30:00+01:00",
                }
            ]
        },
        name=[{"given": ["Ann", "Marie"], "_given": [None, {"id": "g2"}], "family": "Lee"}],
        multipleBirthInteger=2,
        photo=[{"contentType": "image/png", "data": base64.b64encode(b"png").decode(), "size": 3}],
    )
    assert errors(validator.validate(resource)) == []
    assert validator.validate_for_write(resource) is resource


def test_a_value_may_be_replaced_by_its_extension(validator: ProfileValidator) -> None:
    absent = {
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}
        ]
    }
    assert errors(validator.validate(patient(_gender=absent))) == []
    assert errors(validator.validate(patient(name=[{"given": [None], "_given": [absent]}]))) == []


def test_choice_types_are_named_with_of_type(validator: ProfileValidator) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueInteger": "5",
        "valueFoo": 1,
    }
    assert errors(validator.validate(observation)) == [
        ("value", "Observation.value.ofType(integer)"),
        ("structure", "Observation.valueFoo"),
    ]


def test_messages_do_not_echo_values(validator: ProfileValidator) -> None:
    secret = "Jane-Secret-Doe"
    issues = validator.validate(
        patient(name=[{"family": secret, "given": [secret + "\u0001"]}], gender=secret)
    )
    assert issues and all(secret not in issue.diagnostics for issue in issues)


def test_duplicate_properties_are_refused_where_they_are() -> None:
    body = b'{"resourceType":"Patient","name":[{"given":["a"],"given":["b"]}],"gender":"male","gender":"x"}'
    with pytest.raises(InvalidResource) as raised:
        parse_json(body)
    assert [(i.code, i.expression) for i in raised.value.issues()] == [
        ("structure", ("Patient.name[0].given",)),
        ("structure", ("Patient.gender",)),
    ]


def test_bom_is_accepted_and_decimals_keep_their_text() -> None:
    body = b'\xef\xbb\xbf{"resourceType":"Observation","valueQuantity":{"value":1.50}}'
    resource = parse_json(body)
    assert resource["valueQuantity"]["value"] == Decimal("1.50")
    assert dump_json(resource) == body[3:]
    texts = [b"0.10", b"1.5E+3", b"12345678901234567890.123", b"-0.000", b"100", b"12345678901234567890"]
    for text in texts:
        assert dump_json(parse_json(b'{"v":' + text + b"}")) == b'{"v":' + text + b"}"


def test_decimals_must_be_json_numbers(validator: ProfileValidator) -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    bad = {**observation, "valueQuantity": {"value": "1.5"}}
    assert errors(validator.validate(bad)) == [("value", "Observation.value.ofType(Quantity).value")]
    too_long = {**observation, "valueQuantity": {"value": Decimal("1." + "1" * 40)}}
    assert errors(validator.validate(too_long)) == [("value", "Observation.value.ofType(Quantity).value")]
    assert errors(validator.validate({**observation, "valueQuantity": {"value": Decimal("1.50")}})) == []
