"""In-place edits of FHIR JSON that keep primitive companions ("_given" beside "given") aligned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.errors import Unprocessable
from fhir_server.patch.elements import TypeInfo
from fhir_server.patch.locate import Node, Slot, primitive_children_type


@dataclass(frozen=True)
class PatchValue:
    """A value to write: its JSON, a primitive's companion ("_x" object) and the value[x] type suffix."""

    json: Any
    companion: dict[str, Any] | None
    type_suffix: str | None  # "Boolean" for valueBoolean; None for a value built from parts


def set_single(container: dict[str, Any], key: str, value: PatchValue) -> None:
    container[key] = value.json
    if value.companion is not None:
        container[f"_{key}"] = value.companion
    else:
        container.pop(f"_{key}", None)


def add_to_list(container: dict[str, Any], key: str, value: PatchValue) -> None:
    insert_in_list(container, key, len(_list(container, key)), value)


def insert_in_list(container: dict[str, Any], key: str, index: int, value: PatchValue) -> None:
    values = _list(container, key)
    companions = _companions(container, key, len(values))
    values.insert(index, value.json)
    companions.insert(index, value.companion)
    container[key] = values
    _store_companions(container, key, companions)


def replace_in_list(container: dict[str, Any], key: str, index: int, value: PatchValue) -> None:
    values = _list(container, key)
    companions = _companions(container, key, len(values))
    values[index] = value.json
    companions[index] = value.companion
    container[key] = values
    _store_companions(container, key, companions)


def remove_from_list(container: dict[str, Any], key: str, index: int) -> None:
    values = _list(container, key)
    companions = _companions(container, key, len(values))
    if index < len(values):
        values.pop(index)
    companions.pop(index)
    if (values and any(item is not None for item in values)) or any(companions):
        container[key] = values
    else:
        container.pop(key, None)
    _store_companions(container, key, companions)


def move_in_list(container: dict[str, Any], key: str, source: int, destination: int) -> None:
    values = _list(container, key)
    companions = _companions(container, key, len(values))
    values.insert(destination, values.pop(source))
    companions.insert(destination, companions.pop(source))
    _store_companions(container, key, companions)


def list_length(container: dict[str, Any], key: str) -> int:
    return len(_list(container, key))


def _list(container: dict[str, Any], key: str) -> list[Any]:
    values = container.get(key)
    if values is None:
        return []
    if not isinstance(values, list):
        raise Unprocessable(f"'{key}' holds a single value, not a list")
    return values


def _companions(container: dict[str, Any], key: str, size: int) -> list[dict[str, Any] | None]:
    """The "_key" list, padded to ``size`` (JSON leaves it out when no item has extensions)."""
    stored = container.get(f"_{key}")
    companions = (
        [item if isinstance(item, dict) else None for item in stored] if isinstance(stored, list) else []
    )
    return [*companions, *([None] * (size - len(companions)))]


def _store_companions(container: dict[str, Any], key: str, companions: list[dict[str, Any] | None]) -> None:
    if any(companion is not None for companion in companions):
        container[f"_{key}"] = companions
    else:
        container.pop(f"_{key}", None)


def set_companion(
    container: dict[str, Any], key: str, index: int | None, companion: dict[str, Any] | None
) -> None:
    if index is None:
        if companion is None:
            container.pop(f"_{key}", None)
        else:
            container[f"_{key}"] = companion
        return
    companions = _companions(container, key, list_length(container, key))
    companions[index] = companion
    _store_companions(container, key, companions)


def children_holder(node: Node) -> tuple[dict[str, Any], TypeInfo | None]:
    """The object that holds a node's children, and its type; a primitive's is its "_x" companion."""
    if not node.is_primitive:
        return node.value, node.type
    if node.companion is not None:
        return node.companion, primitive_children_type()
    if node.slot is None:
        raise Unprocessable("this path selects a computed value, not an element")
    companion: dict[str, Any] = {}
    set_companion(node.slot.container, node.slot.key, node.slot.index, companion)
    return companion, primitive_children_type()


def holder_type(slot: Slot) -> TypeInfo | None:
    """The type of the object a slot's container is (a primitive companion holds Element's children)."""
    if slot.container is slot.owner.value:
        return slot.owner.type
    return primitive_children_type()


def remove_at(slot: Slot) -> None:
    """Remove the element at a slot, then remove any parent this leaves empty (FHIR JSON has no {})."""
    if slot.index is None:
        slot.container.pop(slot.key, None)
        slot.container.pop(f"_{slot.key}", None)
    else:
        remove_from_list(slot.container, slot.key, slot.index)
    if slot.container:
        return
    owner = slot.owner
    if owner.slot is None:  # the resource itself always keeps its resourceType
        return
    if slot.container is owner.value or owner.value is None:
        remove_at(owner.slot)
    else:
        set_companion(owner.slot.container, owner.slot.key, owner.slot.index, None)
