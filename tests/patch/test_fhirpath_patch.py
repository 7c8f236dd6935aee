"""FHIRPath Patch beyond the official cases: choice types, criteria, primitive extensions, errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.patch import apply_fhirpath_patch

BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [
        {"use": "official", "family": "Doe", "given": ["Jo", "Ann"], "_given": [{"id": "g0"}, None]},
        {"use": "usual", "given": ["Jojo"]},
    ],
    "telecom": [
        {"system": "phone", "use": "home", "value": "1", "rank": 2},
        {"system": "phone", "use": "work", "value": "2", "rank": 1},
        {"system": "email", "use": "work", "value": "3"},
    ],
    "birthDate": "1974-12-25",
    "_birthDate": {"extension": [{"url": BIRTH_TIME, "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
    "deceasedBoolean": False,
    "active": True,
    "contained": [{"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Who"}]}],
}


def operation(type_: str, path: str, **parts: Any) -> dict[str, Any]:
    """One operation parameter; a part given as a dict is used as is (value[x] or nested parts)."""
    built: list[dict[str, Any]] = [
        {"name": "type", "valueCode": type_},
        {"name": "path", "valueString": path},
    ]
    for name, part in parts.items():
        if isinstance(part, dict):
            built.append({"name": name, **part})
        elif isinstance(part, int):
            built.append({"name": name, "valueInteger": part})
        else:
            built.append({"name": name, "valueString": part})
    return {"name": "operation", "part": built}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


def apply(*operations: dict[str, Any]) -> dict[str, Any]:
    return apply_fhirpath_patch(copy.deepcopy(PATIENT), patch(*operations))


def test_input_is_untouched_and_result_shares_nothing() -> None:
    patient = copy.deepcopy(PATIENT)
    parameters = patch(
        operation("delete", "Patient.name[0].given[1]"),
        operation("insert", "Patient.identifier", index=0, value={"valueIdentifier": {"value": "x"}}),
        operation("replace", "Patient.telecom[0].value", value={"valueString": "9"}),
    )
    original_parameters = copy.deepcopy(parameters)
    result = apply_fhirpath_patch(patient, parameters)
    assert patient == PATIENT
    assert result["identifier"] == [{"value": "x"}]
    result["name"][0]["given"].append("Mae")
    result["identifier"][0]["value"] = "y"
    assert patient == PATIENT
    assert parameters == original_parameters


def test_this_in_criteria_selects_primitives() -> None:
    result = apply(operation("delete", "Patient.name.given.where($this = 'Ann')"))
    assert result["name"][0]["given"] == ["Jo"]


def test_a_resource_of_unknown_type_is_patched_by_its_keys() -> None:
    custom = {"resourceType": "Custom", "items": [{"code": "a"}, {"code": "b"}]}
    parameters = patch(
        operation("insert", "Custom.items", index=1, value={"part": [{"name": "code", "valueString": "z"}]}),
        operation("delete", "Custom.items.where(code = 'a')"),
    )
    assert apply_fhirpath_patch(custom, parameters) == {
        "resourceType": "Custom",
        "items": [{"code": "z"}, {"code": "b"}],
    }


def test_add_to_a_choice_element_uses_the_value_type() -> None:
    patient = copy.deepcopy(PATIENT)
    del patient["deceasedBoolean"]
    result = apply_fhirpath_patch(
        patient, patch(operation("add", "Patient", name="deceased", value={"valueDateTime": "2020-01-01"}))
    )
    assert result["deceasedDateTime"] == "2020-01-01"
    assert "deceasedBoolean" not in result


def test_add_to_an_occupied_choice_element_is_unprocessable() -> None:
    with pytest.raises(Unprocessable) as raised:
        apply(operation("add", "Patient", name="deceased", value={"valueDateTime": "2020-01-01"}))
    assert "already has a value" in raised.value.diagnostics
    assert raised.value.expression == ("Parameters.parameter[0]",)


def test_replace_a_choice_element_with_another_type() -> None:
    result = apply(operation("replace", "Patient.deceased", value={"valueDateTime": "2021-02-03"}))
    assert result["deceasedDateTime"] == "2021-02-03"
    assert "deceasedBoolean" not in result


def test_of_type_selects_one_type_of_a_choice() -> None:
    result = apply(operation("replace", "Patient.deceased.ofType(boolean)", value={"valueBoolean": True}))
    assert result["deceasedBoolean"] is True
    with pytest.raises(Unprocessable):  # no deceasedDateTime to replace
        apply(operation("replace", "Patient.deceased.ofType(dateTime)", value={"valueDateTime": "2021"}))


def test_where_with_and_numbers_and_booleans() -> None:
    result = apply(
        operation(
            "replace",
            "Patient.telecom.where(system = 'phone' and rank = 1).value",
            value={"valueString": "7"},
        ),
        operation("delete", "Patient.telecom.where(use = 'home' or value = 'nobody')"),
        operation("replace", "Patient.where(active = true).active", value={"valueBoolean": False}),
    )
    assert [telecom.get("value") for telecom in result["telecom"]] == ["7", "3"]
    assert result["active"] is False


def test_first_last_and_indexers() -> None:
    result = apply(
        operation("delete", "Patient.name.first().given.last()"),
        operation("replace", "Patient.name.last().given[0]", value={"valueString": "J"}),
    )
    assert result["name"][0]["given"] == ["Jo"]
    assert result["name"][0]["_given"] == [{"id": "g0"}]
    assert result["name"][1]["given"] == ["J"]


def test_deleting_a_primitive_keeps_its_companion_list_aligned() -> None:
    result = apply(operation("delete", "Patient.name[0].given[0]"))
    assert result["name"][0]["given"] == ["Ann"]
    assert "_given" not in result["name"][0]


def test_extensions_of_primitives() -> None:
    removed = apply(operation("delete", f"Patient.birthDate.extension('{BIRTH_TIME}')"))
    assert "_birthDate" not in removed
    assert removed["birthDate"] == "1974-12-25"

    extension = {"part": [{"name": "url", "valueUri": "urn:x"}, {"name": "value", "valueCode": "y"}]}
    added = apply(operation("add", "Patient.name[1].given[0]", name="extension", value=extension))
    assert added["name"][1]["_given"] == [{"extension": [{"url": "urn:x", "valueCode": "y"}]}]


def test_emptied_parents_are_removed() -> None:
    result = apply(
        operation("delete", "Patient.contained.ofType(Practitioner).name.family"),
    )
    assert result["contained"] == [{"resourceType": "Practitioner", "id": "dr"}]
    result = apply(
        operation("delete", "Patient.telecom[2]"),
        operation("delete", "Patient.telecom[1]"),
        operation("delete", "Patient.telecom[0]"),
    )
    assert "telecom" not in result


def test_a_replaced_primitive_carries_the_given_extension() -> None:
    value = {"valueDate": "1975-01-01", "_valueDate": {"id": "b"}}
    result = apply(operation("replace", "Patient.birthDate", value=value))
    assert result["birthDate"] == "1975-01-01"
    assert result["_birthDate"] == {"id": "b"}


def test_delete_of_nothing_is_fine() -> None:
    assert apply(operation("delete", "Patient.name.where(use = 'maiden')")) == PATIENT


def test_move_and_insert_bounds() -> None:
    result = apply(operation("move", "Patient.telecom", source=2, destination=0))
    assert [telecom["value"] for telecom in result["telecom"]] == ["3", "1", "2"]
    with pytest.raises(Unprocessable):
        apply(operation("move", "Patient.telecom", source=3, destination=0))
    with pytest.raises(Unprocessable):
        apply(operation("insert", "Patient.telecom", index=4, value={"valueContactPoint": {"value": "4"}}))


@pytest.mark.parametrize(
    ("operations", "position"),
    [
        ([operation("replace", "Patient.name.given", value={"valueString": "x"})], 0),  # three matches
        ([operation("delete", "Patient.telecom"), operation("delete", "Patient.telecom")], 0),
        (
            [
                operation("delete", "Patient.gender"),
                operation("add", "Patient", name="color", value={"valueString": "x"}),
            ],
            1,
        ),
        ([operation("insert", "Patient.birthDate", index=0, value={"valueDate": "2000"})], 0),  # not a list
        ([operation("add", "Patient", name="birthDate", value={"valueDate": "2000"})], 0),  # exists
        ([operation("replace", "Patient.gender", value={"valueCode": "male"})], 0),  # nothing to replace
        ([operation("add", "Patient", name="deceased", value={"part": []})], 0),
    ],
)
def test_semantic_failures_are_unprocessable(operations: list[dict[str, Any]], position: int) -> None:
    with pytest.raises(Unprocessable) as raised:
        apply(*operations)
    assert raised.value.status == 422
    assert raised.value.expression == (f"Parameters.parameter[{position}]",)


@pytest.mark.parametrize(
    "parameters",
    [
        {"resourceType": "Patient"},
        {"resourceType": "Parameters", "parameter": [{"name": "op"}]},
        patch(operation("upsert", "Patient.gender")),
        patch(operation("add", "Patient", value={"valueCode": "male"})),  # no name
        patch(operation("insert", "Patient.name", index="1", value={"valueHumanName": {}})),
        patch(operation("replace", "Patient.name.resolve()", value={"valueString": "x"})),
        patch(operation("delete", "Patient.name[")),
        patch(operation("replace", "Patient.gender", value={"valueCode": "a", "valueString": "b"})),
        patch(operation("delete", "Patient.gender", colour="red")),
    ],
)
def test_malformed_parameters_are_bad_requests(parameters: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as raised:
        apply_fhirpath_patch(copy.deepcopy(PATIENT), parameters)
    assert raised.value.status == 400
