"""FHIR XML to FHIR JSON for the suite's two inputs published only as XML, driven by the R4B model
(which elements repeat, which are primitives and of which type)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from fhir_server.fhirpath.model import FhirModel, r4b_model

FHIR_NS = "{http://hl7.org/fhir}"
XHTML_NS = "{http://www.w3.org/1999/xhtml}"
_NUMBERS = {"integer": int, "positiveInt": int, "unsignedInt": int, "decimal": Decimal}


def _local(tag: str) -> str:
    return tag.split("}", 1)[1] if "}" in tag else tag


def _primitive(type_name: str, text: str) -> Any:
    if type_name == "boolean":
        return text == "true"
    if type_name in _NUMBERS:
        return _NUMBERS[type_name](text)
    return text


def _element(model: FhirModel, type_name: str, xml: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in xml:
        if not isinstance(child.tag, str):
            continue  # comments
        name = _local(child.tag)
        spec = model.element(type_name, name)
        child_type: str | None = None
        key = name
        repeats = False
        if spec is None:
            owner = model.types[type_name]
            for candidate in owner.elements.values():
                if candidate.choice_keys and name in candidate.choice_keys:
                    child_type = candidate.choice_keys[name]
                    break
        else:
            child_type = spec.types[0]
            repeats = spec.repeats
        if child_type is None:
            raise ValueError(f"unknown element {type_name}.{name}")
        if child_type == "xhtml":
            out[key] = ET.tostring(child, encoding="unicode").replace("ns0:", "").replace(":ns0", "")
            continue
        if child_type == "Resource":
            inner = next(iter(child))
            value: Any = {"resourceType": _local(inner.tag), **_element(model, _local(inner.tag), inner)}
        elif model.types[child_type].kind == "primitive":
            value = _primitive(child_type, child.get("value", ""))
            extras = _element(model, child_type, child)
            if extras and repeats:
                out.setdefault("_" + key, []).append(extras)
            elif extras:
                out["_" + key] = extras
        else:
            value = _element(model, child_type, child)
        if repeats:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    if xml.get("id") is not None:
        out["id"] = xml.get("id")
    if xml.get("url") is not None and type_name == "Extension":
        out["url"] = xml.get("url")
    return out


def xml_to_json(text: str) -> dict[str, Any]:
    """A FHIR XML resource as FHIR JSON (decimals as Decimal; enough for the suite's inputs)."""
    ET.register_namespace("", XHTML_NS[1:-1])  # serialise the narrative div without a prefix
    root = ET.fromstring(text)
    resource_type = _local(root.tag)
    return {"resourceType": resource_type, **_element(r4b_model(), resource_type, root)}
