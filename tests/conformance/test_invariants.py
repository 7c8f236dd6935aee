"""FHIRPath invariants: evaluation, the functions we add, and what happens when one cannot run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir_server.conformance.invariants import InvariantEngine, Unevaluable, html_checks
from fhir_server.conformance.structure import Constraint
from fhir_server.conformance.validator import ProfileValidator

from .conftest import CLINIC

JsonDict = dict[str, Any]
PATIENT: JsonDict = {"resourceType": "Patient", "name": [{"family": "Example"}], "active": True}


def _check(engine: InvariantEngine, expression: str, node: Any = PATIENT, path: str = "Patient") -> Any:
    constraint = Constraint(key="t-1", severity="error", human="test", expression=expression)
    return engine.check(constraint, node=node, type_path=path, resource=PATIENT, root=PATIENT)


def test_true_false_and_empty_results() -> None:
    engine = InvariantEngine()
    assert _check(engine, "name.family.exists()") is True
    assert _check(engine, "name.given.exists()") is False
    assert _check(engine, "name.given") is True  # empty: nothing to violate


def test_element_context_and_resource_variables() -> None:
    engine = InvariantEngine()
    name = PATIENT["name"][0]
    assert _check(engine, "family = 'Example'", node=name, path="HumanName") is True
    assert _check(engine, "%resource.active", node=name, path="HumanName") is True


def test_has_value_is_supported() -> None:
    engine = InvariantEngine()
    assert _check(engine, "active.hasValue()") is True
    assert _check(engine, "name.hasValue()") is False


def test_member_of_uses_the_clinic_terminology(validator: ProfileValidator) -> None:
    engine = InvariantEngine(validator.terminology)
    role = {"coding": [{"system": f"{CLINIC}/CodeSystem/clinic-staff-role", "code": "nurse"}]}
    url = f"{CLINIC}/ValueSet/clinic-staff-role"
    assert _check(engine, f"memberOf('{url}')", node=role, path="CodeableConcept") is True
    assert _check(engine, f"'janitor'.memberOf('{url}')") is False


def test_unsupported_function_is_reported_not_raised() -> None:
    outcome = _check(InvariantEngine(), "subject.resolve() is Patient")
    assert isinstance(outcome, Unevaluable)
    assert "resolve" in outcome.reason


def test_unparsable_and_failing_expressions_are_unevaluable() -> None:
    engine = InvariantEngine()
    assert isinstance(_check(engine, "name.where(("), Unevaluable)
    assert isinstance(
        _check(
            engine,
            "name.given.as(string) = 'x'",
            node={"resourceType": "Patient", "name": [{"given": ["a", "b"]}, {"given": ["c"]}]},
        ),
        Unevaluable,
    )


def test_html_checks_refuse_active_content() -> None:
    assert html_checks(['<div xmlns="http://www.w3.org/1999/xhtml"><p>Seen <b>today</b></p></div>'])
    assert not html_checks(['<div xmlns="http://www.w3.org/1999/xhtml"><script>x()</script></div>'])
    assert not html_checks(['<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p></div>'])
    assert not html_checks(['<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">a</a></div>'])
    assert not html_checks(['<div xmlns="http://www.w3.org/1999/xhtml">  </div>'])
    assert not html_checks([])


def test_unevaluable_invariant_becomes_an_information_issue(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    plan = example("clinic-careplan-example")
    plan["contained"] = [
        {
            "resourceType": "CareTeam",
            "id": "team",
            "participant": [
                {
                    "role": [{"text": "nurse"}],
                    "member": {"reference": "Practitioner/clinic-practitioner-example"},
                    "onBehalfOf": {"reference": "Organization/clinic"},
                }
            ],
        }
    ]
    plan["careTeam"] = [{"reference": "#team"}]
    issues = validator.validate(plan)
    assert [(i.severity, i.code) for i in issues] == [("information", "informational")]
    assert "ctm-1" in issues[0].diagnostics and "resolve" in issues[0].diagnostics
    assert issues[0].expression == ("CarePlan.contained[0].participant[0]",)


def test_narrative_with_script_is_invalid(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    patient = example("clinic-patient-example")
    patient["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><script/>x</div>',
    }
    issues = validator.validate(patient)
    assert [(i.code, i.expression) for i in issues] == [("value", ("Patient.text.div",))]
    assert "<script>" in issues[0].diagnostics


def test_contained_resources_must_be_referenced(validator: ProfileValidator) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "contained": [{"resourceType": "Patient", "id": "p1"}],
    }
    issues = validator.validate(observation)
    assert [(i.code, i.expression) for i in issues] == [("invariant", ("Observation.contained[0]",))]
    observation["subject"] = {"reference": "#p1"}
    assert validator.validate(observation) == []
