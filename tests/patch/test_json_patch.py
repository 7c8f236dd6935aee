"""JSON Patch beyond the official cases: immutability, atomicity, error classes and expressions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.patch import apply_json_patch
from fhir_server.patch.json_patch import parse_pointer

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"family": "Doe", "given": ["Jo", "Ann"]}],
    "active": True,
}


def test_input_is_untouched_and_result_shares_nothing() -> None:
    patient = copy.deepcopy(PATIENT)
    value = {"family": "Roe"}
    result = apply_json_patch(patient, [{"op": "add", "path": "/name/-", "value": value}])
    assert patient == PATIENT
    result["name"][0]["given"].append("Mae")
    value["family"] = "changed"
    assert patient == PATIENT
    assert result["name"][1] == {"family": "Roe"}


def test_a_failing_operation_applies_nothing_and_names_its_index() -> None:
    patient = copy.deepcopy(PATIENT)
    patch = [
        {"op": "replace", "path": "/active", "value": False},
        {"op": "remove", "path": "/name/0/given/0"},
        {"op": "remove", "path": "/birthDate"},
    ]
    with pytest.raises(Unprocessable) as raised:
        apply_json_patch(patient, patch)
    assert raised.value.expression == ("operation[2]",)
    assert raised.value.status == 422
    assert "operation 2" in raised.value.diagnostics
    assert patient == PATIENT


@pytest.mark.parametrize(
    ("patch", "expression"),
    [
        ({"op": "add", "path": "/a"}, ("operation[0]",)),
        ({"op": "remove"}, ("operation[0]",)),
        ({"op": "frobnicate", "path": "/a"}, ("operation[0]",)),
        ({"op": "remove", "path": "active"}, ("operation[0]",)),
        ({"op": "remove", "path": "/a~2b"}, ("operation[0]",)),
        ({"op": "move", "path": "/name/0/x"}, ("operation[0]",)),
        ({"op": "move", "from": "/name", "path": "/name/0"}, ("operation[0]",)),
        ("remove /active", ("operation[0]",)),
    ],
)
def test_malformed_operations_are_bad_requests(patch: Any, expression: tuple[str, ...]) -> None:
    with pytest.raises(BadRequest) as raised:
        apply_json_patch(copy.deepcopy(PATIENT), [patch])
    assert raised.value.expression == expression
    assert raised.value.status == 400


def test_a_patch_document_must_be_a_list() -> None:
    with pytest.raises(BadRequest):
        apply_json_patch(copy.deepcopy(PATIENT), {"op": "remove", "path": "/active"})


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "test", "path": "/active", "value": 1}],  # a boolean is not the number 1
        [{"op": "remove", "path": "/name/01"}],  # leading zero is not an index
        [{"op": "remove", "path": "/name/-"}],  # "-" only names a place to add
        [{"op": "add", "path": "/name/2", "value": {}}],  # past the end
        [{"op": "replace", "path": "/birthDate", "value": "2000"}],  # replace needs an existing target
        [{"op": "remove", "path": ""}],
        [{"op": "add", "path": "", "value": ["not", "a", "resource"]}],
        [{"op": "add", "path": "/active/x", "value": 1}],  # cannot step into a scalar
    ],
)
def test_patches_that_do_not_fit_the_document_are_unprocessable(patch: list[Any]) -> None:
    with pytest.raises(Unprocessable):
        apply_json_patch(copy.deepcopy(PATIENT), patch)


def test_copy_move_and_numeric_equality() -> None:
    document = {"a": {"n": 1}, "list": [1, 2, 3]}
    result = apply_json_patch(
        document,
        [
            {"op": "copy", "from": "/a", "path": "/b"},
            {"op": "move", "from": "/list/0", "path": "/list/-"},
            {"op": "test", "path": "/b/n", "value": 1.0},
            {"op": "replace", "path": "/b/n", "value": 2},
        ],
    )
    assert result == {"a": {"n": 1}, "b": {"n": 2}, "list": [2, 3, 1]}


def test_pointer_escapes() -> None:
    assert parse_pointer("") == ()
    assert parse_pointer("/a~1b/~0c/~01") == ("a/b", "~c", "~1")
    with pytest.raises(ValueError):
        parse_pointer("/a~")
