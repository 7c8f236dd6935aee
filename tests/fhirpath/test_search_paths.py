"""The search-path compiler (fhir_server.search.fhirpath) against the evaluator: wherever an
expression takes a fast path, its output must equal the evaluator's, on the FHIRPath suite's
expressions and on every R4B search parameter over the official examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.conformance import spec_data
from fhir_server.conformance.registry import expression_root, split_union
from fhir_server.fhirpath import FhirPathError, compile_expression
from fhir_server.search.fhirpath import compile_expression as compile_search_expression
from fhir_server.search.fhirpath import compile_fast_path, evaluator_path
from tests.fhirpath.suite import load_cases, load_input
from tests.support import SHARED

EXAMPLES = SHARED / "reference" / "fhir-r4b-examples"


def _evaluated(expression: str, resource: Any) -> list[Any]:
    return evaluator_path(expression)(resource)


def test_suite_expressions_on_fast_paths_match_the_evaluator() -> None:
    compared = 0
    for case in load_cases():
        resource = load_input(case.input_file)
        if case.invalid is not None or not isinstance(resource, dict):
            continue
        expression = case.expression.strip()
        rooted = expression_root(expression) == resource["resourceType"]
        fast = compile_fast_path(expression, rooted=rooted) if len(split_union(expression)) == 1 else None
        if fast is None:
            continue
        compared += 1
        assert fast(resource) == _evaluated(expression, resource), case.name
    assert compared >= 20  # the suite's plain paths (name.given, Patient.name.family ...)


def _examples() -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(Path(EXAMPLES).glob("*.json")):
        resource = orjson.loads(path.read_bytes())
        if isinstance(resource, dict) and "resourceType" in resource:
            by_type.setdefault(resource["resourceType"], []).append(resource)
    return by_type


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="shared official examples are not available")
def test_search_parameters_on_fast_paths_match_the_evaluator_on_the_examples() -> None:
    examples = _examples()
    compared = 0
    for parameter in spec_data.search_parameter_resources():
        expression = parameter.get("expression")
        if not expression:
            continue
        for part in split_union(expression):
            fast = compile_fast_path(part)
            if fast is None:
                continue
            for resource in examples.get(expression_root(part), ()):
                compared += 1
                assert fast(resource) == _evaluated(part, resource), (
                    parameter["url"],
                    part,
                    resource.get("id"),
                )
    assert compared > 1000


def test_every_search_parameter_compiles() -> None:
    failures = []
    for parameter in spec_data.search_parameter_resources():
        expression = parameter.get("expression")
        if not expression:
            continue
        for part in split_union(expression):
            if compile_fast_path(part) is not None:
                continue
            try:
                compile_expression(part, lenient_casts=True)
            except FhirPathError as error:
                failures.append((part, error.message))
    assert failures == []


def test_fallback_resolves_reference_types_for_indexing() -> None:
    observation = {
        "resourceType": "Observation",
        "contained": [{"resourceType": "Group", "id": "g"}],
        "performer": [{"reference": "Practitioner/1"}, {"reference": "#g"}, {"display": "someone"}],
    }
    # a dotted where() takes the evaluator, which resolves to the referenced type
    expression = "Observation.performer.where(resolve() is Practitioner and reference.exists())"
    assert compile_search_expression(expression)(observation) == [{"reference": "Practitioner/1"}]
    assert compile_search_expression("Observation.performer.where(resolve() is Group)")(observation) == [
        {"reference": "#g"}
    ]
