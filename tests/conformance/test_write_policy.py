"""The write entry point: ``ProfileValidator.validate_for_write`` (400 base, 422 profiles)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.conformance.write_policy import parse_required_profiles
from fhir_server.errors import InvalidResource, NonConformant

from .conftest import CLINIC

JsonDict = dict[str, Any]
EXPENSE = f"{CLINIC}/StructureDefinition/clinic-invoice-expense"
INCOME = f"{CLINIC}/StructureDefinition/clinic-invoice-income"
FINANCE = {"Invoice": [EXPENSE, INCOME]}


@pytest.fixture
def requiring(validator: ProfileValidator) -> Iterator[Callable[[dict[str, list[str]]], None]]:
    """Set the required profiles of the shared validator for one test."""

    def set_required(required: dict[str, list[str]]) -> None:
        validator.required_profiles = required

    yield set_required
    validator.required_profiles = {}


def test_valid_claimed_profile_is_accepted(
    validator: ProfileValidator, example: Callable[[str], JsonDict], requiring: Callable[..., None]
) -> None:
    requiring(FINANCE)
    expense = example("clinic-invoice-expense-example")
    assert validator.validate_for_write(expense) is expense


def test_invalid_claimed_profile_is_refused_with_every_issue(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    expense = example("clinic-invoice-expense-example")
    del expense["date"]
    expense["type"]["coding"][0]["code"] = "income"
    with pytest.raises(NonConformant) as raised:
        validator.validate_for_write(expense)
    outcome = raised.value.outcome()
    assert raised.value.status == 422
    expressions = [i.get("expression") for i in outcome["issue"]]
    assert ["Invoice.date"] in expressions and ["Invoice.type.coding[0].code"] in expressions
    assert validator.validate(expense)  # $validate: the same verdict


def test_required_profile_must_be_claimed_or_be_the_content(
    validator: ProfileValidator, example: Callable[[str], JsonDict], requiring: Callable[..., None]
) -> None:
    requiring(FINANCE)
    patient_bill: JsonDict = {"resourceType": "Invoice", "status": "draft"}  # not a clinic kind
    with pytest.raises(NonConformant) as raised:
        validator.validate_for_write(patient_bill)
    assert raised.value.issues()[0].expression == ("Invoice.meta.profile",)
    expense = example("clinic-invoice-expense-example")
    del expense["meta"]  # an expense by its content: the requirement is met and the profile recorded
    stored = validator.validate_for_write(expense)
    assert stored["meta"]["profile"] == [EXPENSE]
    requiring({"Patient": [f"{CLINIC}/x"]})
    assert validator.validate_for_write(patient_bill) is patient_bill


def test_versioned_claim_satisfies_a_requirement(
    validator: ProfileValidator, example: Callable[[str], JsonDict], requiring: Callable[..., None]
) -> None:
    requiring(FINANCE)
    income = example("clinic-invoice-income-example")
    income["meta"]["profile"] = [f"{INCOME}|0.1.0"]
    stored = validator.validate_for_write(income)
    assert stored["meta"]["profile"] == [f"{INCOME}|0.1.0"]


def test_unknown_claimed_profile_is_a_warning(validator: ProfileValidator) -> None:
    patient = {"resourceType": "Patient", "meta": {"profile": ["http://example.org/unknown"]}}
    assert validator.validate_for_write(patient) is patient
    issues = validator.validate(patient)
    assert ("warning", "not-found") in [(i.severity, i.code) for i in issues]


def test_base_rules_apply_without_any_profile(validator: ProfileValidator) -> None:
    with pytest.raises(InvalidResource) as raised:
        validator.validate_for_write({"resourceType": "Patient", "gender": "bogus"})
    assert raised.value.status == 400
    assert [(i.code, i.expression) for i in raised.value.issues()] == [("code-invalid", ("Patient.gender",))]


def test_parse_required_profiles() -> None:
    assert parse_required_profiles('{"Invoice": ["a", "b"]}') == {"Invoice": ["a", "b"]}
    assert parse_required_profiles("") == {}
    for bad in ('["a"]', '{"Invoice": "a"}', '{"Invoice": [1]}'):
        with pytest.raises(ValueError, match="required_profiles"):
            parse_required_profiles(bad)
