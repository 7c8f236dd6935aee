"""Cost of one invariant evaluation: fhirpathpy (as the engine used it before) against ours.

    uv run python -m tests.fhirpath.bench_invariants

Each invariant is compiled once, then evaluated many times on the same element; the figure is
the mean wall time of one evaluation in microseconds (best of five rounds).
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

from fhir_server.conformance.invariants import InvariantEngine, has_value
from fhir_server.conformance.structure import Constraint

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
    "contact": [{"name": {"family": "du Marché"}, "telecom": [{"system": "phone", "value": "1"}]}],
    "managingOrganization": {"reference": "Organization/1"},
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
    "valueQuantity": {"value": 185, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"},
    "effectivePeriod": {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T11:00:00Z"},
}

OBS_7 = "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()"
PER_1 = "start.hasValue().not() or end.hasValue().not() or (start <= end)"
PAT_1 = "name.exists() or telecom.exists() or address.exists() or organization.exists()"
# (key, expression, node, element path) - invariants of the base specification
CASES: list[tuple[str, str, Any, str]] = [
    ("pat-1", PAT_1, PATIENT["contact"][0], "Patient.contact"),
    ("obs-6", "dataAbsentReason.empty() or value.empty()", OBSERVATION, "Observation"),
    ("obs-7", OBS_7, OBSERVATION, "Observation"),
    ("per-1", PER_1, OBSERVATION["effectivePeriod"], "Period"),
    ("qty-3", "code.empty() or system.exists()", OBSERVATION["valueQuantity"], "Quantity"),
]


def _fhirpathpy(expression: str, node: Any, path: str, resource: Any) -> Callable[[], Any]:
    import fhirpathpy
    from fhirpathpy.engine.nodes import ResourceNode
    from fhirpathpy.models import models

    # as the engine called it before: hasValue() added, trace output dropped
    options = {"userInvocationTable": {"hasValue": {"fn": has_value}}, "traceFn": lambda *_: None}
    compiled = fhirpathpy.compile(expression, models["r4"], options)
    create_node: Any = ResourceNode.create_node
    subject = node if "resourceType" in node else create_node(node, path)
    variables = {"resource": resource, "rootResource": resource}
    return lambda: compiled(subject, variables)


def _ours(key: str, expression: str, node: Any, path: str, resource: Any) -> Callable[[], Any]:
    engine = InvariantEngine()
    constraint = Constraint(key=f"{key}-bench", severity="error", human="", expression=expression)
    engine.check(constraint, node=node, type_path=path, resource=resource, root=resource)  # compile
    return lambda: engine.check(constraint, node=node, type_path=path, resource=resource, root=resource)


def _microseconds(fn: Callable[[], Any], number: int = 2000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    print(f"{'invariant':<10}{'fhirpathpy us':>15}{'ours us':>10}")
    totals = [0.0, 0.0]
    for key, expression, node, path in CASES:
        resource = OBSERVATION if path.startswith(("Observation", "Period", "Quantity")) else PATIENT
        before = _microseconds(_fhirpathpy(expression, node, path, resource))
        after = _microseconds(_ours(key, expression, node, path, resource))
        totals[0] += before
        totals[1] += after
        print(f"{key:<10}{before:>15.1f}{after:>10.1f}")
    count = len(CASES)
    print(f"{'mean':<10}{totals[0] / count:>15.1f}{totals[1] / count:>10.1f}")


if __name__ == "__main__":
    main()
