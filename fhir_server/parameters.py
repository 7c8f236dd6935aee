"""Reading FHIR ``Parameters`` resources (the input of ``$operations``)."""

from __future__ import annotations

from typing import Any


def parameter_values(parameters: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """All ``Parameters.parameter`` entries with this name."""
    return [p for p in parameters.get("parameter", []) if isinstance(p, dict) and p.get("name") == name]


def first_value(parameters: dict[str, Any], name: str) -> Any:
    """The ``value[x]`` (or ``resource``) of the first parameter with this name, or None."""
    for entry in parameter_values(parameters, name):
        if "resource" in entry:
            return entry["resource"]
        for key, value in entry.items():
            if key.startswith("value"):
                return value
    return None


def from_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """A Parameters resource of string values from query or form pairs (``_format`` ... left out)."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name, "valueString": value} for name, value in pairs if not name.startswith("_")
        ],
    }
