"""Turn the ``value`` part of a FHIRPath Patch operation into JSON, and pick the element it goes into."""

from __future__ import annotations

import copy
from typing import Any

from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.patch.edits import PatchValue, add_to_list, set_single
from fhir_server.patch.elements import ElementInfo, TypeInfo, type_info

VALUE_PREFIX = "value"


def value_suffix(part: dict[str, Any]) -> str | None:
    """The type suffix of a part's value[x] ("Date" for valueDate), None when the value is in parts."""
    keys = [key for key in part if key.startswith(VALUE_PREFIX) and key[len(VALUE_PREFIX) :][:1].isupper()]
    if len(keys) > 1:
        raise BadRequest(f"a part has several values: {', '.join(sorted(keys))}")
    return keys[0][len(VALUE_PREFIX) :] if keys else None


def build_value(part: dict[str, Any], element: ElementInfo | None) -> PatchValue:
    """The JSON for a part: its value[x], or an object built from its named sub-parts."""
    suffix = value_suffix(part)
    if suffix is not None:
        key = VALUE_PREFIX + suffix
        companion = part.get(f"_{key}")
        return PatchValue(
            copy.deepcopy(part[key]),
            copy.deepcopy(companion) if isinstance(companion, dict) else None,
            suffix,
        )
    if "resource" in part:
        return PatchValue(copy.deepcopy(part["resource"]), None, None)
    sub_parts = part.get("part")
    if not isinstance(sub_parts, list) or not sub_parts:
        raise BadRequest("the value is missing: give a value[x] or parts")
    target = type_info(element.model) if element is not None and element.model is not None else None
    return PatchValue(_object_from_parts(sub_parts, target), None, None)


def _object_from_parts(parts: list[Any], type_: TypeInfo | None) -> dict[str, Any]:
    built: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            raise BadRequest("every part of a complex value needs a name")
        key, element = target_element(type_, part["name"], value_suffix(part))
        value = build_value(part, element)
        repeats = element.repeats if element is not None else key in built
        if repeats:
            add_to_list(built, key, value)
        elif key in built or f"_{key}" in built:
            raise Unprocessable(f"'{part['name']}' is given twice but does not repeat")
        else:
            set_single(built, key, value)
    return built


def target_element(type_: TypeInfo | None, name: str, suffix: str | None) -> tuple[str, ElementInfo | None]:
    """The JSON key and element a name means in a type: a choice name gets the value's type suffix."""
    if not name or name.startswith("_") or name == "resourceType":
        raise BadRequest(f"'{name}' is not an element name")
    if type_ is None:
        return name, None
    element = type_.element(name)
    if element is not None:
        if element.is_choice and suffix is not None and element.type_suffix != suffix:
            raise Unprocessable(f"'{name}' cannot hold a value of type {suffix}")
        return name, element
    group = type_.choices.get(name)
    if not group:
        raise Unprocessable(f"{type_.name} has no element '{name}'")
    if suffix is None:
        raise Unprocessable(f"'{name}' is a choice of types: give its value as value[x]")
    for candidate in group:
        if candidate.type_suffix == suffix:
            return candidate.json_name, candidate
    raise Unprocessable(f"'{name}' cannot hold a value of type {suffix}")
