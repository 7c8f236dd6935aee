"""Read the generated R4B data files in ``fhir_server/spec/`` (see its README). Cached, read once."""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources
from typing import Any

import orjson

_SPEC_PACKAGE = "fhir_server.spec"


def _read(name: str) -> Any:
    raw = resources.files(_SPEC_PACKAGE).joinpath(name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return orjson.loads(raw)


@cache
def search_parameter_resources() -> tuple[dict[str, Any], ...]:
    """The specification's SearchParameters in compact form (one dict per definition)."""
    return tuple(_read("search_parameters.json.gz")["parameters"])


@cache
def compartment_definitions() -> dict[str, dict[str, list[str]]]:
    """Compartment type ("Patient") -> member resource type -> parameter codes."""
    data: dict[str, dict[str, list[str]]] = _read("compartments.json")
    return data


@cache
def resource_type_names() -> tuple[str, ...]:
    return tuple(_read("resource_types.json"))


@cache
def element_summary() -> dict[str, dict[str, list[str]]]:
    """Resource type -> {"summary": [...], "mandatory": [...], "modifier": [...]} (top-level names)."""
    data: dict[str, dict[str, list[str]]] = _read("summary_elements.json.gz")
    return data


@cache
def fhirpath_hints() -> dict[str, list[str]]:
    """{"choice_names": [...], "type_names": [...]} for compiling search expressions."""
    data: dict[str, list[str]] = _read("fhirpath_hints.json")
    return data


@cache
def summary_tree(resource_type: str) -> dict[str, Any]:
    """The ``isSummary`` elements of a type at every level, as nested names (``{}``: keep the whole
    value); generated for CapabilityStatement only."""
    tree: dict[str, Any] = _read("summary_trees.json")["trees"][resource_type]
    return tree


@cache
def openapi_components() -> dict[str, Any]:
    """``{"schemas": {...}, "examples": {type: resource}}``: the R4B JSON schema as OpenAPI
    component schemas, and a request example per resource type that validates against them."""
    data: dict[str, Any] = _read("openapi_schemas.json.gz")
    return data
