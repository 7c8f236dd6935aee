"""The write policy the interaction layer applies on create and update."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.conformance.write_policy import check_write, parse_required_profiles
from fhir_server.errors import Unprocessable

from .conftest import CLINIC

JsonDict = dict[str, Any]
EXPENSE = f"{CLINIC}/StructureDefinition/clinic-invoice-expense"
INCOME = f"{CLINIC}/StructureDefinition/clinic-invoice-income"
FINANCE = {"Invoice": [EXPENSE, INCOME]}


def test_valid_claimed_profile_is_accepted(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    check_write(example("clinic-invoice-expense-example"), validator=validator, required_profiles=FINANCE)


def test_invalid_claimed_profile_is_refused_with_every_issue(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    expense = example("clinic-invoice-expense-example")
    del expense["date"]
    expense["type"]["coding"][0]["code"] = "income"
    with pytest.raises(Unprocessable) as raised:
        check_write(expense, validator=validator, required_profiles={})
    outcome = raised.value.outcome()
    assert raised.value.status == 422
    expressions = [i.get("expression") for i in outcome["issue"]]
    assert ["Invoice.date"] in expressions and ["Invoice.type.coding[0].code"] in expressions


def test_required_profile_must_be_claimed(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    expense = example("clinic-invoice-expense-example")
    del expense["meta"]
    with pytest.raises(Unprocessable) as raised:
        check_write(expense, validator=validator, required_profiles=FINANCE)
    assert raised.value.expression == ("Invoice.meta.profile",)
    check_write(expense, validator=validator, required_profiles={"Patient": [f"{CLINIC}/x"]})


def test_versioned_claim_satisfies_a_requirement(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    income = example("clinic-invoice-income-example")
    income["meta"]["profile"] = [f"{INCOME}|0.1.0"]
    check_write(income, validator=validator, required_profiles=FINANCE)


def test_unknown_claimed_profile_is_not_refused(validator: ProfileValidator) -> None:
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": ["http://example.org/unknown"]},
        "gender": "bogus",
    }
    check_write(patient, validator=validator, required_profiles={})
    issues = validator.validate(patient)
    assert ("warning", "not-found") in [(i.severity, i.code) for i in issues]


def test_resources_without_known_profiles_are_not_validated_here(validator: ProfileValidator) -> None:
    check_write({"resourceType": "Patient", "gender": "bogus"}, validator=validator, required_profiles={})


def test_parse_required_profiles() -> None:
    assert parse_required_profiles('{"Invoice": ["a", "b"]}') == {"Invoice": ["a", "b"]}
    assert parse_required_profiles("") == {}
    for bad in ('["a"]', '{"Invoice": "a"}', '{"Invoice": [1]}'):
        with pytest.raises(ValueError, match="required_profiles"):
            parse_required_profiles(bad)
