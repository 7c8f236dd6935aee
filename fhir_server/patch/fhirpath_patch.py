"""FHIRPath Patch (https://hl7.org/fhir/R4B/fhirpatch.html): a Parameters resource of operations."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.errors import BadRequest, FhirError, Unprocessable
from fhir_server.patch.edits import (
    add_to_list,
    children_holder,
    holder_type,
    insert_in_list,
    list_length,
    move_in_list,
    remove_at,
    replace_in_list,
    set_single,
)
from fhir_server.patch.elements import ElementInfo
from fhir_server.patch.locate import Node, PathEvaluationError, evaluate, root_node
from fhir_server.patch.paths import Member, Path, PathSyntaxError, parse_path
from fhir_server.patch.values import build_value, target_element, value_suffix

OPERATION = "operation"
_STRING_PARTS = ("path", "name")
_INTEGER_PARTS = ("index", "source", "destination")


@dataclass(frozen=True)
class PatchOperation:
    """One parsed ``operation`` parameter; ``parts`` holds the raw parts by name."""

    type: str
    path_text: str
    path: Path
    parts: dict[str, dict[str, Any]]

    def string(self, name: str) -> str:
        return str(self.parts[name]["valueString"])

    def integer(self, name: str) -> int:
        return int(self.parts[name]["valueInteger"])

    @property
    def value_part(self) -> dict[str, Any]:
        return self.parts["value"]


def apply_fhirpath_patch(resource: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Apply a FHIRPath Patch Parameters resource; return a new resource, leaving ``resource`` untouched.

    All or nothing. BadRequest: the Parameters are malformed (unknown type, missing part, bad path syntax).
    Unprocessable: an operation does not fit this resource (no or several matches, element exists,
    index out of range, unknown element). The error's expression names ``Parameters.parameter[i]``.
    The result is not validated against the resource's structure: the caller does that.
    """
    operations = parse_operations(parameters)
    result = copy.deepcopy(resource)
    for position, operation in enumerate(operations):
        try:
            _HANDLERS[operation.type](root_node(result), operation)
        except (FhirError, PathEvaluationError) as error:
            raise _located(error, position, operation) from None
    return result


def _where(position: int) -> tuple[str, ...]:
    return (f"Parameters.parameter[{position}]",)


def _located(error: FhirError | PathEvaluationError, position: int, operation: PatchOperation) -> FhirError:
    reason = error.diagnostics if isinstance(error, FhirError) else str(error)
    message = f"FHIRPath Patch operation {position} ({operation.type} at {operation.path_text}): {reason}"
    if isinstance(error, BadRequest):
        return BadRequest(message, _where(position))
    return Unprocessable(message, _where(position))


# ---- parsing ----------------------------------------------------------------------------------------


def parse_operations(parameters: Any) -> list[PatchOperation]:
    """The operations of a FHIRPath Patch body; BadRequest naming the first malformed parameter."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise BadRequest("a FHIRPath Patch body is a Parameters resource")
    entries = parameters.get("parameter", [])
    if not isinstance(entries, list):
        raise BadRequest("Parameters.parameter must be a list", ("Parameters.parameter",))
    operations: list[PatchOperation] = []
    for position, entry in enumerate(entries):
        try:
            operations.append(_parse_operation(entry))
        except BadRequest as error:
            raise BadRequest(
                f"FHIRPath Patch operation {position} is malformed: {error.diagnostics}", _where(position)
            ) from None
    return operations


def _parse_operation(entry: Any) -> PatchOperation:
    if not isinstance(entry, dict) or entry.get("name") != OPERATION:
        raise BadRequest(f"every parameter must be named '{OPERATION}'")
    parts = _parts_by_name(entry.get("part"))
    type_part = parts.get("type", {})
    operation_type = type_part.get("valueCode", type_part.get("valueString"))
    if not isinstance(operation_type, str) or operation_type not in _HANDLERS:
        raise BadRequest(f"the 'type' part must be one of {', '.join(_HANDLERS)}")
    missing = [name for name in _REQUIRED_PARTS[operation_type] if name not in parts]
    if missing:
        raise BadRequest(f"'{operation_type}' needs the part(s) {', '.join(missing)}")
    for name in _STRING_PARTS:
        if name in parts and not isinstance(parts[name].get("valueString"), str):
            raise BadRequest(f"the '{name}' part needs a valueString")
    for name in _INTEGER_PARTS:
        number = parts[name].get("valueInteger") if name in parts else 0
        if not isinstance(number, int) or isinstance(number, bool):
            raise BadRequest(f"the '{name}' part needs a valueInteger")
    if "value" in parts:
        value_suffix(parts["value"])  # several value[x] in one part is malformed
    path_text = str(parts["path"]["valueString"])
    try:
        path = parse_path(path_text)
    except PathSyntaxError as error:
        raise BadRequest(f"invalid path: {error}") from None
    return PatchOperation(operation_type, path_text, path, parts)


def _parts_by_name(raw_parts: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw_parts, list):
        raise BadRequest("an operation needs parts")
    parts: dict[str, dict[str, Any]] = {}
    for part in raw_parts:
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str) or name not in _KNOWN_PARTS:
            raise BadRequest(f"unknown part '{name}'; parts are {', '.join(sorted(_KNOWN_PARTS))}")
        if name in parts:
            raise BadRequest(f"the part '{name}' is given twice")
        parts[name] = part
    return parts


# ---- operations -------------------------------------------------------------------------------------


def _matches(root: Node, operation: PatchOperation, doing: str) -> list[Node]:
    nodes = evaluate(operation.path, root)
    if len(nodes) > 1:
        raise Unprocessable(f"the path matches {len(nodes)} elements when {doing}; it must match one")
    for node in nodes:
        if node.slot is None and node is not root:
            raise BadRequest("the path selects a computed value, not an element")
    return nodes


def _one_match(root: Node, operation: PatchOperation, doing: str) -> Node:
    nodes = _matches(root, operation, doing)
    if not nodes:
        raise Unprocessable(f"No content found at {operation.path_text} when {doing}")
    return nodes[0]


def _add(root: Node, operation: PatchOperation) -> None:
    holder, type_ = children_holder(_one_match(root, operation, "adding"))
    name = operation.string("name")
    key, element = target_element(type_, name, value_suffix(operation.value_part))
    value = build_value(operation.value_part, element)
    repeats = element.repeats if element is not None else isinstance(holder.get(key), list)
    if repeats:
        add_to_list(holder, key, value)
        return
    # a choice element is occupied by any of its types: deceasedBoolean blocks adding deceasedDateTime
    variants = type_.choices.get(element.base_name, ()) if type_ is not None and element is not None else ()
    if any(taken in holder or f"_{taken}" in holder for taken in {key, *(v.json_name for v in variants)}):
        raise Unprocessable(f"'{name}' already has a value; use replace")
    set_single(holder, key, value)


def _list_target(
    root: Node, operation: PatchOperation, doing: str
) -> tuple[dict[str, Any], str, ElementInfo | None]:
    """For insert and move: the object holding the list, the list's key and element."""
    *parent_steps, last = operation.path.steps
    if not isinstance(last, Member):
        raise BadRequest("the path must end with the name of a list element")
    parents = evaluate(Path(tuple(parent_steps)), root)
    if len(parents) != 1:
        found = "no" if not parents else str(len(parents))
        raise Unprocessable(f"found {found} elements to hold the list when {doing}; expected one")
    holder, type_ = children_holder(parents[0])
    key, element = target_element(type_, last.name, None)
    is_list = element.repeats if element is not None else isinstance(holder.get(key, []), list)
    if not is_list:
        raise Unprocessable(f"'{last.name}' is not a list")
    return holder, key, element


def _insert(root: Node, operation: PatchOperation) -> None:
    holder, key, element = _list_target(root, operation, "inserting")
    index = operation.integer("index")
    size = list_length(holder, key)
    if not 0 <= index <= size:
        raise Unprocessable(f"index {index} is outside the list (length {size})")
    insert_in_list(holder, key, index, build_value(operation.value_part, element))


def _move(root: Node, operation: PatchOperation) -> None:
    holder, key, _element = _list_target(root, operation, "moving")
    source, destination = operation.integer("source"), operation.integer("destination")
    size = list_length(holder, key)
    for label, index in (("source", source), ("destination", destination)):
        if not 0 <= index < size:
            raise Unprocessable(f"{label} index {index} is outside the list (length {size})")
    move_in_list(holder, key, source, destination)


def _delete(root: Node, operation: PatchOperation) -> None:
    nodes = _matches(root, operation, "deleting")
    if not nodes:
        return  # deleting what is not there is not an error
    slot = nodes[0].slot
    if slot is None:
        raise Unprocessable("the resource itself cannot be deleted by a patch")
    remove_at(slot)


def _replace(root: Node, operation: PatchOperation) -> None:
    slot = _one_match(root, operation, "replacing").slot
    if slot is None:
        raise Unprocessable("the resource itself cannot be replaced by a patch")
    key, element = slot.key, slot.element
    if element is not None and element.is_choice:
        # a choice element may change type: deceasedBoolean -> deceasedDateTime
        key, element = target_element(
            holder_type(slot), element.base_name, value_suffix(operation.value_part)
        )
    value = build_value(operation.value_part, element)
    if slot.index is not None:
        replace_in_list(slot.container, key, slot.index, value)
        return
    slot.container.pop(slot.key, None)
    slot.container.pop(f"_{slot.key}", None)
    set_single(slot.container, key, value)


_HANDLERS: dict[str, Callable[[Node, PatchOperation], None]] = {
    "add": _add,
    "insert": _insert,
    "delete": _delete,
    "replace": _replace,
    "move": _move,
}
_REQUIRED_PARTS: dict[str, tuple[str, ...]] = {
    "add": ("path", "name", "value"),
    "insert": ("path", "value", "index"),
    "delete": ("path",),
    "replace": ("path", "value"),
    "move": ("path", "source", "destination"),
}
_KNOWN_PARTS = frozenset({"type", "path", "name", "value", "index", "source", "destination"})
