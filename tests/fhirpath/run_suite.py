"""Run the official FHIRPath R4B suite against our evaluator or plain fhirpathpy, and report.

    uv run python -m tests.fhirpath.run_suite                   # our evaluator: pass count
    uv run python -m tests.fhirpath.run_suite --engine fhirpathpy
    uv run python -m tests.fhirpath.run_suite --failures        # and why each failing case fails

fhirpathpy keeps no FHIR types on its results, so its run compares values only (a looser test
than ours, which also checks each result's type).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir_server.fhirpath import FhirPathError, Node, compile_expression
from fhir_server.fhirpath.model import SYSTEM_TYPE_OF_PRIMITIVE
from fhir_server.fhirpath.nodes import system_type_name, system_value
from fhir_server.fhirpath.quantity import Quantity
from fhir_server.fhirpath.temporal import TIME, Temporal
from tests.fhirpath.suite import _SYSTEM_TO_SUITE, Actual, SuiteCase, load_cases, load_input, matches


@dataclass(frozen=True, slots=True)
class Outcome:
    passed: bool
    detail: str


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Temporal):
        return ("@T" if value.kind == TIME else "@") + str(value)
    return str(value)


def describe(item: Any) -> Actual:
    """One of our result items in the suite's terms."""
    if type(item) is Node:
        if item.type in SYSTEM_TYPE_OF_PRIMITIVE:
            return Actual(item.type, _text(system_value(item)))
        return Actual(item.type, repr(item.data))
    if isinstance(item, Quantity):
        return Actual("Quantity", str(item))
    return Actual(_SYSTEM_TO_SUITE.get(system_type_name(item)), _text(item))


def run_ours(case: SuiteCase) -> Outcome:
    resource = load_input(case.input_file)
    context_type = resource.get("resourceType") if isinstance(resource, dict) else None
    try:
        compiled = compile_expression(
            case.expression, context_type, check_ordered_functions=case.check_ordered_functions
        )
        result = compiled.evaluate(resource)
    except FhirPathError as error:
        return Outcome(case.invalid is not None, f"{error.kind} error: {error.message}")
    if case.invalid is not None:
        return Outcome(False, f"expected a {case.invalid} error, got {[describe(i) for i in result]}")
    if case.predicate:
        result = [bool(result)]
    actual = [describe(item) for item in result]
    return Outcome(matches(case, actual, check_types=True), f"got {actual}")


def _fhirpathpy_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    return text


def run_fhirpathpy(case: SuiteCase) -> Outcome:
    import fhirpathpy
    from fhirpathpy.models import models

    resource = load_input(case.input_file)
    try:
        result = fhirpathpy.evaluate(resource or {}, case.expression, {}, models["r4"])
    except Exception as error:  # fhirpathpy raises bare Exceptions
        return Outcome(case.invalid is not None, f"error: {error}")
    if case.invalid is not None:
        return Outcome(False, f"expected a {case.invalid} error, got {result}")
    if case.predicate:
        result = [bool(result)]
    actual = []
    for item, expected in zip(result, [*case.outputs, *([None] * len(result))], strict=False):
        text = _fhirpathpy_text(item)
        if expected is not None and expected.text.startswith("@") and not text.startswith("@"):
            text = ("@T" if expected.text.startswith("@T") else "@") + text
        actual.append(Actual(None, text))
    return Outcome(matches(case, actual, check_types=False), f"got {actual}")


ENGINES: dict[str, Callable[[SuiteCase], Outcome]] = {"ours": run_ours, "fhirpathpy": run_fhirpathpy}


def run(engine: str) -> list[tuple[SuiteCase, Outcome]]:
    runner = ENGINES[engine]
    results: list[tuple[SuiteCase, Outcome]] = []
    for case in load_cases():
        try:
            outcome = runner(case)
        except Exception as error:  # a crash is a failure of the engine, not of the run
            outcome = Outcome(False, f"crash: {type(error).__name__}: {error}")
        results.append((case, outcome))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=sorted(ENGINES), default="ours")
    parser.add_argument("--failures", action="store_true", help="list the failing cases")
    args = parser.parse_args()
    results = run(args.engine)
    passed = sum(outcome.passed for _, outcome in results)
    if args.failures:
        for case, outcome in results:
            if not outcome.passed:
                print(f"{case.name} [{case.group}] {case.expression.strip()!r}: {outcome.detail}")
    print(f"{args.engine}: {passed}/{len(results)} passed")


if __name__ == "__main__":
    main()
