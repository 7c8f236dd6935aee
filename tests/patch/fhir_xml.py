"""A small FHIR XML -> FHIR JSON converter for the official patch test cases (test support only).

Which elements repeat, which are primitives and how primitives are typed comes from the
``fhir.resources.R4B`` models; primitive ids/extensions go to "_name" companions; xhtml becomes a string.
"""

from __future__ import annotations

import typing
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from fhir.resources.R4B import get_fhir_model_class

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_RESOURCE_BASES = frozenset({"Resource", "DomainResource"})


@dataclass(frozen=True)
class _Field:
    repeats: bool
    model: Any  # fhir.resources class of a complex element; None for a primitive
    python_type: Any  # bool / int / Decimal / str ... for a primitive


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def resource_from_xml(element: ET.Element) -> dict[str, Any]:
    """A FHIR resource in XML (``<Patient xmlns="http://hl7.org/fhir">``) as a FHIR JSON dict."""
    resource_type = local_name(element.tag)
    resource: dict[str, Any] = {"resourceType": resource_type}
    _fill(resource, element, get_fhir_model_class(resource_type))
    return resource


def xhtml_to_string(element: ET.Element, *, root: bool = True) -> str:
    """Serialize an xhtml element as FHIR JSON carries Narrative.div (default namespace on the root)."""
    tag = local_name(element.tag)
    namespace = f' xmlns="{XHTML_NS}"' if root else ""
    attributes = "".join(
        f' {local_name(name)}="{escape(value, {chr(34): "&quot;"})}"'
        for name, value in element.attrib.items()
    )
    inner = escape(element.text or "") + "".join(
        xhtml_to_string(child, root=False) + escape(child.tail or "") for child in element
    )
    if not inner:
        return f"<{tag}{namespace}{attributes}/>"
    return f"<{tag}{namespace}{attributes}>{inner}</{tag}>"


def _fill(target: dict[str, Any], element: ET.Element, model: Any) -> None:
    groups: dict[str, list[ET.Element]] = {}
    for child in element:
        groups.setdefault(local_name(child.tag), []).append(child)
    fields = _fields(model)
    for name, children in groups.items():
        if name not in fields:
            raise ValueError(f"{model.__name__} has no element '{name}'")
        field = fields[name]
        if not field.repeats and len(children) > 1:
            raise ValueError(f"{model.__name__}.{name} does not repeat")
        if field.model is None:
            _put_primitives(target, name, children, field)
        else:
            values = [_complex(child, field.model) for child in children]
            target[name] = values if field.repeats else values[0]


def _complex(element: ET.Element, model: Any) -> Any:
    if model.__name__ in _RESOURCE_BASES:  # contained, Bundle.entry.resource, Parameters...resource
        (inner,) = list(element)
        return resource_from_xml(inner)
    value: dict[str, Any] = dict(element.attrib)  # id, Extension.url
    _fill(value, element, model)
    return value


def _put_primitives(target: dict[str, Any], name: str, children: list[ET.Element], field: _Field) -> None:
    if name == "div":
        target[name] = xhtml_to_string(children[0])
        return
    values = [_typed(child.get("value"), field.python_type) for child in children]
    companions = [_companion(child) for child in children]
    target[name] = values if field.repeats else values[0]
    if any(companion is not None for companion in companions):
        target[f"_{name}"] = companions if field.repeats else companions[0]


def _companion(element: ET.Element) -> dict[str, Any] | None:
    companion: dict[str, Any] = {}
    if "id" in element.attrib:
        companion["id"] = element.attrib["id"]
    _fill(companion, element, get_fhir_model_class("Element"))
    return companion or None


def _typed(text: str | None, python_type: Any) -> Any:
    if text is None:
        return None
    if python_type is bool:
        return {"true": True, "false": False}[text]
    if python_type is int:
        return int(text)
    if python_type is Decimal:
        return float(text)
    return text


@cache
def _fields(model: Any) -> dict[str, _Field]:
    fields: dict[str, _Field] = {}
    for name, info in model.model_fields.items():
        if name == "fhir_comments" or name.endswith("__ext"):
            continue
        repeats, inner = _unwrap(info.annotation)
        resolve = getattr(inner, "get_model_klass", None)
        fields[info.alias or name] = _Field(repeats, resolve() if callable(resolve) else None, inner)
    return fields


def _unwrap(annotation: Any) -> tuple[bool, Any]:
    repeats = False
    while True:
        origin = typing.get_origin(annotation)
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if origin is list:
            repeats, annotation = True, args[0]
        elif origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin is not None and len(args) == 1:
            annotation = args[0]
        else:
            return repeats, annotation
