"""Comparing instance values with fixed[x] and pattern[x] values, and walking simple paths."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def _same_scalar(instance: Any, expected: Any) -> bool:
    numeric = (int, float, Decimal)
    if isinstance(instance, bool) or isinstance(expected, bool):
        return instance is expected
    if isinstance(instance, numeric) and isinstance(expected, numeric):
        return Decimal(str(instance)) == Decimal(str(expected))
    return bool(instance == expected)


def matches_fixed(instance: Any, fixed: Any) -> bool:
    """Exact equality (fixed[x]): no element may be missing or added."""
    if isinstance(fixed, dict):
        return (
            isinstance(instance, dict)
            and instance.keys() == fixed.keys()
            and all(matches_fixed(instance[k], v) for k, v in fixed.items())
        )
    if isinstance(fixed, list):
        return (
            isinstance(instance, list)
            and len(instance) == len(fixed)
            and all(matches_fixed(i, f) for i, f in zip(instance, fixed, strict=True))
        )
    return _same_scalar(instance, fixed)


def matches_pattern(instance: Any, pattern: Any) -> bool:
    """pattern[x]: every element of the pattern is present with the same value; each item of a
    pattern list matches some item of the instance list; other elements may be added."""
    if isinstance(pattern, dict):
        return isinstance(instance, dict) and all(
            key in instance and matches_pattern(instance[key], value) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(instance, list) and all(
            any(matches_pattern(item, wanted) for item in instance) for wanted in pattern
        )
    return _same_scalar(instance, pattern)


def as_list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (absent, malformed) as an empty one."""
    return value if isinstance(value, list) else []


def values_at(value: Any, path: str) -> list[Any]:
    """The values at a dotted path (``coding.system``) below a JSON value; ``$this`` is the value."""
    current = [value]
    for name in path.split("."):
        if name == "$this":
            continue
        following: list[Any] = []
        for item in current:
            if isinstance(item, dict) and name in item:
                found = item[name]
                following.extend(found if isinstance(found, list) else [found])
        current = following
    return current


def describe(value: Any) -> str:
    """A short rendering of a profile's value for diagnostics (profile data, never instance data)."""
    if isinstance(value, dict):
        codings = value.get("coding")
        if isinstance(codings, list) and codings:
            return ", ".join(
                f"{c.get('system', '')}|{c.get('code', '')}" for c in codings if isinstance(c, dict)
            )
        if "system" in value or "code" in value:
            return f"{value.get('system', '')}|{value.get('code', '')}"
        return "{" + ", ".join(sorted(value)) + "}"
    return repr(value)
