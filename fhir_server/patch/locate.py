"""Evaluate a patch path to LOCATIONS in a resource (parent container + key + index), not just values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir_server.patch.elements import ElementInfo, TypeInfo, resource_type_info, type_info
from fhir_server.patch.paths import (
    Comparison,
    Expression,
    Function,
    Indexer,
    Literal,
    Member,
    Path,
    Step,
    This,
)

# names a path may start with to mean the resource itself, besides its own type
_ROOT_ALIASES = frozenset({"Resource", "DomainResource"})


class PathEvaluationError(ValueError):
    """The path is well formed but cannot be evaluated here (e.g. single() on several items)."""


@dataclass(frozen=True, eq=False)
class Slot:
    """Where a node lives: ``container[key]`` or ``container[key][index]``."""

    owner: Node  # the node whose child this is
    container: dict[str, Any]  # the owner's object, or the owner's primitive companion ("_birthDate")
    key: str
    index: int | None
    element: ElementInfo | None  # None when the type is unknown


@dataclass(frozen=True, eq=False)
class Node:
    """One item of a path's result. ``value`` is None for a primitive that only has extensions."""

    value: Any
    type: TypeInfo | None = None  # for objects of a known type
    slot: Slot | None = None  # None for the root and for computed values
    companion: dict[str, Any] | None = None  # a primitive's "_name" object (id, extension)

    @property
    def is_primitive(self) -> bool:
        return not isinstance(self.value, dict)


def root_node(resource: dict[str, Any]) -> Node:
    resource_type = resource.get("resourceType")
    type_ = resource_type_info(resource_type) if isinstance(resource_type, str) else None
    return Node(resource, type_)


def evaluate(path: Path, root: Node) -> list[Node]:
    """The nodes a path selects, starting at the resource (a leading type name is the resource)."""
    steps = path.steps
    first = steps[0] if steps else None
    if isinstance(first, Member) and _names_root(first.name, root):
        steps = steps[1:]
    return _walk(steps, [root])


def _names_root(name: str, root: Node) -> bool:
    return name == root.value.get("resourceType") or name in _ROOT_ALIASES


def _walk(steps: tuple[Step, ...], nodes: list[Node]) -> list[Node]:
    for step in steps:
        nodes = _STEP_HANDLERS[type(step)](step, nodes)
    return nodes


def _member(step: Step, nodes: list[Node]) -> list[Node]:
    assert isinstance(step, Member)
    return [child for node in nodes for child in children(node, step.name)]


def _indexer(step: Step, nodes: list[Node]) -> list[Node]:
    assert isinstance(step, Indexer)
    return nodes[step.index : step.index + 1]


def _this(step: Step, nodes: list[Node]) -> list[Node]:
    return nodes


def _function(step: Step, nodes: list[Node]) -> list[Node]:
    assert isinstance(step, Function)
    return _FUNCTIONS[step.name](step, nodes)


_STEP_HANDLERS: dict[type, Callable[[Step, list[Node]], list[Node]]] = {
    Member: _member,
    Indexer: _indexer,
    This: _this,
    Function: _function,
}


def children(node: Node, name: str) -> list[Node]:
    """The child nodes a FHIRPath name selects (a choice name selects whichever type is present)."""
    if node.is_primitive:
        # a primitive's own children (id, extension) live in its "_name" companion object
        if node.companion is None:
            return []
        return _children_in(node, node.companion, primitive_children_type(), name)
    return _children_in(node, node.value, node.type, name)


def _children_in(owner: Node, container: dict[str, Any], type_: TypeInfo | None, name: str) -> list[Node]:
    if type_ is not None:
        candidates: list[tuple[str, ElementInfo | None]] = [(e.json_name, e) for e in type_.named(name)]
    else:
        candidates = [(key, None) for key in _untyped_keys(container, name)]
    found: list[Node] = []
    for key, element in candidates:
        if key not in container and f"_{key}" not in container:
            continue
        values, companions, listed = _items(container.get(key), container.get(f"_{key}"))
        for index, (value, companion) in enumerate(zip(values, companions, strict=True)):
            if value is None and companion is None:
                continue
            slot = Slot(owner, container, key, index if listed else None, element)
            found.append(Node(value, _child_type(value, element), slot, companion))
    return found


def _untyped_keys(container: dict[str, Any], name: str) -> list[str]:
    """Keys a name selects when the type is unknown: the name itself, else choice-like ``nameType`` keys."""
    if name == "resourceType":
        return []
    if name in container or f"_{name}" in container:
        return [name]
    return [key for key in container if key.startswith(name) and key[len(name) : len(name) + 1].isupper()]


def _items(value: Any, companion: Any) -> tuple[list[Any], list[dict[str, Any] | None], bool]:
    """Pair each value with its primitive companion; the flag tells whether the element is a list."""
    if isinstance(value, list) or isinstance(companion, list):
        values = value if isinstance(value, list) else []
        companions = companion if isinstance(companion, list) else []
        size = max(len(values), len(companions))
        padded_values = [*values, *([None] * (size - len(values)))]
        padded = [item if isinstance(item, dict) else None for item in companions]
        return padded_values, [*padded, *([None] * (size - len(padded)))], True
    return [value], [companion if isinstance(companion, dict) else None], False


def _child_type(value: Any, element: ElementInfo | None) -> TypeInfo | None:
    if not isinstance(value, dict):
        return None
    resource_type = value.get("resourceType")
    if isinstance(resource_type, str):  # contained resources, Bundle.entry.resource, parameter.resource
        return resource_type_info(resource_type)
    if element is not None and element.model is not None:
        return type_info(element.model)
    return None


def primitive_children_type() -> TypeInfo | None:
    """The type of a primitive's own children (id, extension): Element."""
    return resource_type_info("Element")


# ---- functions --------------------------------------------------------------------------------------


def _first(step: Function, nodes: list[Node]) -> list[Node]:
    return nodes[:1]


def _last(step: Function, nodes: list[Node]) -> list[Node]:
    return nodes[-1:]


def _single(step: Function, nodes: list[Node]) -> list[Node]:
    if len(nodes) > 1:
        raise PathEvaluationError(f"single() found {len(nodes)} items")
    return nodes


def _where(step: Function, nodes: list[Node]) -> list[Node]:
    criteria = step.argument
    assert criteria is not None and not isinstance(criteria, str)
    return [node for node in nodes if _evaluate_values(criteria, node) == [True]]


def _extension(step: Function, nodes: list[Node]) -> list[Node]:
    return [
        extension
        for node in nodes
        for extension in children(node, "extension")
        if isinstance(extension.value, dict) and extension.value.get("url") == step.argument
    ]


def _of_type(step: Function, nodes: list[Node]) -> list[Node]:
    wanted = str(step.argument)
    return [node for node in nodes if _is_of_type(node, wanted)]


def _is_of_type(node: Node, wanted: str) -> bool:
    if isinstance(node.value, dict) and node.value.get("resourceType") == wanted:
        return True
    element = node.slot.element if node.slot is not None else None
    if element is not None and element.is_choice:
        return element.type_suffix.lower() == wanted.lower()
    if node.slot is not None and element is None:  # unknown type: judge by a choice-like key
        return node.slot.key.lower().endswith(wanted.lower())
    return node.type is not None and node.type.name == wanted


def _exists(step: Function, nodes: list[Node]) -> list[Node]:
    return [Node(bool(nodes))]


def _empty(step: Function, nodes: list[Node]) -> list[Node]:
    return [Node(not nodes)]


def _not(step: Function, nodes: list[Node]) -> list[Node]:
    if len(nodes) == 1 and isinstance(nodes[0].value, bool):
        return [Node(not nodes[0].value)]
    return []


def _count(step: Function, nodes: list[Node]) -> list[Node]:
    return [Node(len(nodes))]


_FUNCTIONS: dict[str, Callable[[Function, list[Node]], list[Node]]] = {
    "first": _first,
    "last": _last,
    "single": _single,
    "where": _where,
    "extension": _extension,
    "ofType": _of_type,
    "exists": _exists,
    "empty": _empty,
    "not": _not,
    "count": _count,
}


# ---- criteria (values, FHIRPath's three-valued logic) ------------------------------------------------


def _evaluate_values(expression: Expression, this: Node) -> list[Any]:
    """Evaluate criteria against one item; the result is a collection of plain values."""
    if isinstance(expression, Literal):
        return [expression.value]
    if isinstance(expression, Path):
        return [node.value for node in _walk(expression.steps, [this])]
    if isinstance(expression, Comparison):
        equal = _equals(_evaluate_values(expression.left, this), _evaluate_values(expression.right, this))
        if equal is None:
            return []
        return [equal if expression.operator == "=" else not equal]
    left = _truth(_evaluate_values(expression.left, this))
    right = _truth(_evaluate_values(expression.right, this))
    result = _and(left, right) if expression.operator == "and" else _or(left, right)
    return [] if result is None else [result]


def _equals(left: list[Any], right: list[Any]) -> bool | None:
    if not left or not right:
        return None
    return len(left) == len(right) and all(map(_value_equal, left, right))


def _value_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float | Decimal) and isinstance(right, int | float | Decimal):
        return Decimal(str(left)) == Decimal(str(right))
    return type(left) is type(right) and bool(left == right)


def _truth(values: list[Any]) -> bool | None:
    if not values:
        return None
    if len(values) == 1 and isinstance(values[0], bool):
        return values[0]
    return True  # a non-empty, non-boolean collection counts as true


def _and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def _or(left: bool | None, right: bool | None) -> bool | None:
    if left is True or right is True:
        return True
    return None if left is None or right is None else False
