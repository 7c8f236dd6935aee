"""Invariants known without evaluating them: which members an expression reads, presence-only
expressions, and the same verdicts as evaluating every invariant on every node."""

from __future__ import annotations

import pytest

from fhir_server.conformance.base_rules import BaseRules
from fhir_server.conformance.constraints import ConstraintRunner
from fhir_server.conformance.invariant_scope import holds, names_read, presence_rule
from fhir_server.conformance.validator import ProfileValidator
from fhir_server.jsonio import parse_json
from tests.support import SHARED


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("duration.empty() or durationUnit.exists()", {"duration", "durationUnit"}),
        (
            "(type = 'group') or (answerValueSet.empty() and item.exists())",
            {"type", "answerValueSet", "item"},
        ),
        ("iif(low.exists(), low <= high, true)", {"low", "high"}),
        ("value.ofType(Quantity).exists()", {"value", "Quantity"}),
        ("reference.startsWith('#').not() or %rootResource.contained.exists()", None),
        ("hasValue() or (children().count() > id.count())", None),
        ("where($this = 'x').exists()", None),
        ("today() > date", None),
    ],
)
def test_names_read(expression: str, names: set[str] | None) -> None:
    assert names_read(expression) == (frozenset(names) if names is not None else None)


def test_presence_rules() -> None:
    rule = presence_rule("code.empty() or system.exists()")
    assert rule is not None
    assert holds(rule, frozenset()) and holds(rule, frozenset({"code", "system"}))
    assert not holds(rule, frozenset({"code"}))
    implies = presence_rule("a.exists() implies b.exists().not()")
    assert (
        implies is not None and not holds(implies, frozenset({"a", "b"})) and holds(implies, frozenset({"b"}))
    )
    assert presence_rule("a.exists() and (b = 'x')") is None
    assert presence_rule("a.exists() or b.exists() and c.exists()") is None  # mixed connectives


def test_shortcuts_give_the_verdicts_of_full_evaluation(validator: ProfileValidator) -> None:
    class EvaluateEverything(ConstraintRunner):
        def _known(self, *args: object, **kwargs: object) -> None:
            return None

    full = BaseRules(validator.structures, validator.terminology, validator._invariants)
    full._runner = EvaluateEverything(validator._invariants)
    paths = sorted((SHARED / "reference" / "fhir-r4b-examples").glob("*.json"))[::4]
    assert len(paths) > 60
    for path in paths:
        resource = parse_json(path.read_bytes())
        assert validator.base_issues(resource) == full.validate(resource), path.name
