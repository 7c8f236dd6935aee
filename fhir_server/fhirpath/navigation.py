"""Walking FHIR JSON by FHIRPath names: ``name``, choice elements (``value`` -> ``valueQuantity``),
primitive extensions (``_birthDate``), contained resources, ``children()`` and ``descendants()``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir_server.fhirpath.model import PRIMITIVE_BASES, ElementSpec, FhirModel
from fhir_server.fhirpath.nodes import Node

_PRIMITIVE_SUFFIXES = {name[0].upper() + name[1:]: name for name in PRIMITIVE_BASES}


def _append(out: list[Any], value: Any, type_: str | None, extra: Any) -> None:
    if type(value) is list:
        extras = extra if type(extra) is list else ()
        for index, item in enumerate(value):
            item_extra = extras[index] if index < len(extras) else None
            if item is None and item_extra is None:
                continue
            out.append(_node(item, type_, item_extra))
        if not value and extras:  # only extensions on a repeating primitive
            out.extend(_node(None, type_, e) for e in extras if e is not None)
        return
    if value is None and extra is None:
        return
    out.append(_node(value, type_, extra))


def _append_untyped(out: list[Any], value: Any, extra: Any) -> None:
    """Data of no known type: primitives become System values (there is no FHIR type to keep)."""
    if extra is None and value is not None and not isinstance(value, dict | list):
        out.append(Decimal(repr(value)) if isinstance(value, float) else value)
        return
    _append(out, value, None, extra)


def _node(value: Any, type_: str | None, extra: Any) -> Node:
    if type_ == "Resource" and isinstance(value, dict):
        declared = value.get("resourceType")
        type_ = declared if isinstance(declared, str) else None
    return Node(value, type_, extra)


def _untyped_choice(out: list[Any], data: dict[str, Any], name: str) -> None:
    size = len(name)
    for key, value in data.items():
        if len(key) > size and key.startswith(name) and key[size].isupper():
            suffix = key[size:]
            _append(out, value, _PRIMITIVE_SUFFIXES.get(suffix, suffix), data.get("_" + key))


def navigate(model: FhirModel, items: list[Any], name: str) -> list[Any]:
    """The children called ``name`` of every node in ``items`` (System values have none)."""
    out: list[Any] = []
    for item in items:
        if type(item) is not Node:
            continue
        data = item.data
        if type(data) is not dict:
            extra = item.extra
            if type(extra) is dict and name in ("extension", "id"):
                _append(out, extra.get(name), "Extension" if name == "extension" else "string", None)
            continue
        type_ = item.type
        spec = model.element(type_, name) if type_ is not None else None
        if spec is None:
            if type_ is not None and model.knows(type_):
                continue  # not an element of this type
            if name in data or "_" + name in data:
                _append_untyped(out, data.get(name), data.get("_" + name))
            else:
                _untyped_choice(out, data, name)
            continue
        _append_element(out, data, spec)
    return out


def _append_element(out: list[Any], data: dict[str, Any], spec: ElementSpec) -> None:
    keys = spec.choice_keys
    if keys is None:
        name = spec.name
        _append(out, data.get(name), spec.types[0], data.get("_" + name))
        return
    for key, value in data.items():
        choice_type = keys.get(key)
        if choice_type is not None:
            _append(out, value, choice_type, data.get("_" + key))
    for key in data:  # a primitive choice present only as extensions: "_valueString"
        if key.startswith("_") and key[1:] in keys and key[1:] not in data:
            _append(out, None, keys[key[1:]], data[key])


def children(model: FhirModel, items: list[Any]) -> list[Any]:
    """Every direct child element of every node, in document order."""
    out: list[Any] = []
    for item in items:
        if type(item) is not Node:
            continue
        data = item.data
        if type(data) is not dict:
            if type(item.extra) is dict:
                _append(out, item.extra.get("extension"), "Extension", None)
            continue
        type_spec = model.types.get(item.type) if item.type is not None else None
        seen: set[str] = set()
        for key in data:
            if key == "resourceType":
                continue
            name = key[1:] if key.startswith("_") else key
            if name in seen:
                continue
            seen.add(name)
            spec = type_spec.elements.get(name) if type_spec is not None else None
            if spec is None and type_spec is not None:
                spec = _choice_spec(type_spec.elements, name)
            if spec is not None and spec.choice_keys is not None:
                _append(out, data.get(name), spec.choice_keys.get(name), data.get("_" + name))
            elif spec is not None:
                _append(out, data.get(name), spec.types[0], data.get("_" + name))
            else:
                _append(out, data.get(name), None, data.get("_" + name))
    return out


def _choice_spec(elements: dict[str, ElementSpec], key: str) -> ElementSpec | None:
    for spec in elements.values():
        if spec.choice_keys is not None and key in spec.choice_keys:
            return spec
    return None


def descendants(model: FhirModel, items: list[Any]) -> list[Any]:
    out: list[Any] = []
    level = children(model, items)
    while level:
        out.extend(level)
        level = children(model, level)
    return out
