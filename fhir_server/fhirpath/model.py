"""The R4B type model FHIRPath navigates by: element names, their types, cardinality, choices.

Built once from the generated base StructureDefinitions (``fhir_server/spec/base-structures.json.gz``).
Backbone elements become types of their own named by path (``Patient.contact``) whose base is
``BackboneElement``; ``contentReference`` elements point at the referenced backbone type. The few
abstract bases the generated file leaves out (Element, Resource, DomainResource) and the primitive
types are declared here.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

# Primitive types and the type each one specialises (R4B StructureDefinitions' baseDefinition).
PRIMITIVE_BASES: dict[str, str] = {
    "boolean": "Element",
    "integer": "Element",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "Element",
    "string": "Element",
    "code": "string",
    "id": "string",
    "markdown": "string",
    "uri": "Element",
    "url": "uri",
    "canonical": "uri",
    "oid": "uri",
    "uuid": "uri",
    "base64Binary": "Element",
    "instant": "Element",
    "date": "Element",
    "dateTime": "Element",
    "time": "Element",
    "xhtml": "Element",
}

# The System type each FHIR primitive's value maps to (FHIRPath "Using FHIR types").
SYSTEM_TYPE_OF_PRIMITIVE: dict[str, str] = {
    "boolean": "Boolean",
    "integer": "Integer",
    "positiveInt": "Integer",
    "unsignedInt": "Integer",
    "decimal": "Decimal",
    "date": "Date",
    "dateTime": "DateTime",
    "instant": "DateTime",
    "time": "Time",
    **dict.fromkeys(
        (
            "string",
            "code",
            "id",
            "markdown",
            "uri",
            "url",
            "canonical",
            "oid",
            "uuid",
            "base64Binary",
            "xhtml",
        ),
        "String",
    ),
}

QUANTITY_TYPES = frozenset(
    {"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
)


@dataclass(frozen=True, slots=True)
class ElementSpec:
    """One element of a type: its FHIRPath name, type(s) and whether it repeats.

    For a choice element (``value[x]``) ``choice_keys`` maps each JSON key (``valueQuantity``) to
    its type; ``types`` then lists every allowed type.
    """

    name: str
    types: tuple[str, ...]
    repeats: bool
    choice_keys: dict[str, str] | None = None


@dataclass(slots=True)
class TypeSpec:
    name: str
    base: str | None
    kind: str  # primitive | complex-type | resource | backbone | abstract
    elements: dict[str, ElementSpec] = field(default_factory=dict)


def _suffix(type_name: str) -> str:
    return type_name[0].upper() + type_name[1:]


class FhirModel:
    """Type lookups for FHIRPath: elements by (type, name), subtype tests, resource names."""

    def __init__(self, types: dict[str, TypeSpec]) -> None:
        self.types = types
        self.resource_types = frozenset(
            name
            for name, spec in types.items()
            if spec.kind == "resource" or name in ("Resource", "DomainResource")
        )
        self._ancestors: dict[str, tuple[str, ...]] = {}

    def element(self, type_name: str, name: str) -> ElementSpec | None:
        spec = self.types.get(type_name)
        return spec.elements.get(name) if spec is not None else None

    def knows(self, type_name: str) -> bool:
        return type_name in self.types

    def ancestors(self, type_name: str) -> tuple[str, ...]:
        """The type itself, then its bases up to the root."""
        cached = self._ancestors.get(type_name)
        if cached is None:
            chain: list[str] = []
            current: str | None = type_name
            while current is not None and current not in chain:
                chain.append(current)
                spec = self.types.get(current)
                current = spec.base if spec is not None else None
            cached = self._ancestors[type_name] = tuple(chain)
        return cached

    def is_subtype(self, type_name: str, of: str) -> bool:
        return of in self.ancestors(type_name)


_ELEMENT = {
    "id": ElementSpec("id", ("string",), False),
    "extension": ElementSpec("extension", ("Extension",), True),
}
_RESOURCE = {
    "id": ElementSpec("id", ("id",), False),
    "meta": ElementSpec("meta", ("Meta",), False),
    "implicitRules": ElementSpec("implicitRules", ("uri",), False),
    "language": ElementSpec("language", ("code",), False),
}
_DOMAIN_RESOURCE = {
    **_RESOURCE,
    "text": ElementSpec("text", ("Narrative",), False),
    "contained": ElementSpec("contained", ("Resource",), True),
    "extension": ElementSpec("extension", ("Extension",), True),
    "modifierExtension": ElementSpec("modifierExtension", ("Extension",), True),
}


def _element_spec(element: dict[str, Any], name: str, types: list[str]) -> ElementSpec:
    repeats = element.get("max", "1") != "1" and element.get("max") != "0"
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = {stem + _suffix(t): t for t in types}
        return ElementSpec(stem, tuple(types), repeats, keys)
    return ElementSpec(name, tuple(types), repeats)


def _add_structure(types: dict[str, TypeSpec], structure: dict[str, Any]) -> None:
    root = structure["type"]
    base = str(structure.get("baseDefinition", "")).rsplit("/", 1)[-1] or None
    types[root] = TypeSpec(root, base, structure["kind"])
    for element in structure["elements"][1:]:
        path: str = element["path"]
        parent, name = path.rsplit(".", 1)
        codes = [t["code"] for t in element.get("type", ())]
        if "contentReference" in element:
            codes = [element["contentReference"].lstrip("#")]
        elif codes in (["BackboneElement"], ["Element"]) and _has_children(structure, path):
            types[path] = TypeSpec(path, codes[0], "backbone")
            codes = [path]
        owner = types.get(parent)
        if owner is None:  # a child of a primitive-typed element (never in the base set)
            continue
        spec = _element_spec(element, name, codes)
        owner.elements[spec.name] = spec


def _has_children(structure: dict[str, Any], path: str) -> bool:
    prefix = path + "."
    return any(e["path"].startswith(prefix) for e in structure["elements"])


@cache
def r4b_model() -> FhirModel:
    """The R4B model (read once)."""
    raw = resources.files("fhir_server.spec").joinpath("base-structures.json.gz").read_bytes()
    data = orjson.loads(gzip.decompress(raw))
    types: dict[str, TypeSpec] = {
        "Element": TypeSpec("Element", None, "abstract", dict(_ELEMENT)),
        "Resource": TypeSpec("Resource", None, "abstract", dict(_RESOURCE)),
        "DomainResource": TypeSpec("DomainResource", "Resource", "abstract", dict(_DOMAIN_RESOURCE)),
    }
    for name, base in PRIMITIVE_BASES.items():
        types[name] = TypeSpec(name, base, "primitive", dict(_ELEMENT))
    for structure in data["structures"].values():
        _add_structure(types, structure)
    return FhirModel(types)
