"""Malformed input never makes the validator raise: every problem comes back as an issue."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from fhir_server.conformance.validator import ProfileValidator

JsonDict = dict[str, Any]
ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "x",
    [],
    {},
    [{}],
    [None],
    {"id": "a"},
    [[1]],
    {"x": {"y": 2}},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _replace(resource: JsonDict, path: tuple[Any, ...], value: Any) -> JsonDict:
    mutated = copy.deepcopy(resource)
    target: Any = mutated
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return mutated


@pytest.mark.parametrize("seed", range(8))
def test_random_corruptions_give_issues_not_exceptions(
    seed: int, validator: ProfileValidator, examples: dict[str, JsonDict]
) -> None:
    generator = random.Random(seed)
    corrupted = 0
    for resource in examples.values():
        paths = [p for p in _paths(resource) if p[0] != "resourceType"]
        for path in generator.sample(paths, min(6, len(paths))):
            mutated = _replace(resource, path, generator.choice(ODD_VALUES))
            issues = validator.validate(mutated)
            assert all(issue.severity in ("fatal", "error", "warning", "information") for issue in issues)
            corrupted += bool(issues)
    assert corrupted > 0


def test_odd_meta_and_resource_type(validator: ProfileValidator) -> None:
    odd_metas: list[Any] = ["x", {"profile": "not-a-list"}, {"profile": [1, None]}, []]
    for meta in odd_metas:
        issues = validator.validate({"resourceType": "Patient", "meta": meta})
        assert all(i.code != "not-found" for i in issues)
    assert validator.validate({"resourceType": 5})[0].code == "required"
