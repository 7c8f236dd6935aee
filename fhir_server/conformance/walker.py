"""Walks a resource alongside a compiled structure and reports every rule it breaks.

Below the elements a profile lists, the walk continues into the data types' own definitions
(``HumanName``, ``Reference`` ...), contained and bundled resources, and extensions (by their
definition when it is known), so base rules apply everywhere. Structure and primitive formats are
left to the pydantic models (see ``model_check``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.conformance.element_checks import (
    BindingChecker,
    ReferenceChecker,
    check_contained_referenced,
    check_extension_shape,
    check_fixed_pattern,
    check_known_code,
    check_not_empty,
)
from fhir_server.conformance.invariants import InvariantEngine, Unevaluable
from fhir_server.conformance.slicing import SliceItem, assign_slices
from fhir_server.conformance.structure import CompiledStructure, ElementRule
from fhir_server.conformance.structure_index import StructureIndex
from fhir_server.conformance.terminology import Terminology
from fhir_server.errors import Issue

JsonDict = dict[str, Any]
RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
INLINE_TYPES = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True, slots=True)
class Item:
    """One value of an element: the JSON value, its primitive extension (``_name``), its type."""

    value: Any
    extension: Any
    type_code: str | None
    location: str


@dataclass(frozen=True, slots=True)
class Scope:
    """Where we are: the structure being walked, %resource and %rootResource, and the issue sink."""

    structure: CompiledStructure
    resource: Any
    root: Any
    issues: list[Issue]

    def inside(self, structure: CompiledStructure) -> Scope:
        return Scope(structure, self.resource, self.root, self.issues)

    def nested(self, structure: CompiledStructure, resource: Any, *, contained: bool) -> Scope:
        """A resource inside this one: contained ones keep the container as %rootResource, others
        (Bundle entries, Parameters values) are their own root."""
        return Scope(structure, resource, self.root if contained else resource, self.issues)


class InstanceWalker:
    def __init__(self, index: StructureIndex, terminology: Terminology, invariants: InvariantEngine) -> None:
        self._index = index
        self._terminology = terminology
        self._invariants = invariants
        self._bindings = BindingChecker(terminology)
        self._references = ReferenceChecker(index)

    def validate(self, resource: JsonDict, structure: CompiledStructure) -> list[Issue]:
        """Every issue of ``resource`` against ``structure`` (a resource profile or core definition)."""
        scope = Scope(structure, resource, resource, [])
        self._resource(scope, resource, str(resource.get("resourceType", structure.type)))
        return scope.issues

    def _resource(self, scope: Scope, resource: JsonDict, location: str) -> None:
        root = scope.structure.root
        scope.issues.extend(check_contained_referenced(resource, location))
        self._constraints(scope, root, resource, location, scope.structure.type)
        self._children(scope, root, resource, location)

    def _children(self, scope: Scope, rule: ElementRule, obj: JsonDict, location: str) -> None:
        for child in rule.children:
            items = self._gather(child, obj, location)
            self._cardinality(scope, child, len(items), location)
            for item in items:
                self._item(scope, child, item)
            if child.slices:  # also without items: a required slice is then missing
                self._slices(scope, child, items, location)

    def _gather(self, rule: ElementRule, obj: JsonDict, location: str) -> list[Item]:
        name = rule.json_name
        if not rule.is_choice:
            return _items(obj.get(name), obj.get("_" + name), None, f"{location}.{name}")
        found: list[Item] = []
        for key in obj:
            type_name = self._index.choice_suffixes.get(key[len(name) :]) if key.startswith(name) else None
            if type_name is not None:
                found.extend(_items(obj[key], obj.get("_" + key), type_name, f"{location}.{key}"))
            elif key.startswith("_" + name) and key[1:] not in obj:
                type_name = self._index.choice_suffixes.get(key[len(name) + 1 :])
                if type_name is not None:
                    found.extend(_items(None, obj[key], type_name, f"{location}.{key[1:]}"))
        return found

    def _cardinality(self, scope: Scope, rule: ElementRule, count: int, location: str) -> None:
        where = f"{location}.{rule.json_name}"
        if count < rule.min:
            message = (
                f"{rule.path}: minimum required = {rule.min}, but only found {count} ({scope.structure.url})"
            )
            scope.issues.append(Issue("required", message, "error", (where,)))
        if rule.max is not None and count > rule.max:
            message = f"{rule.path}: maximum allowed = {rule.max}, but found {count} ({scope.structure.url})"
            scope.issues.append(Issue("structure", message, "error", (where,)))

    def _slices(self, scope: Scope, rule: ElementRule, items: list[Item], location: str) -> None:
        slice_items = [SliceItem(i.value, i.type_code, i.location) for i in items]
        matched, issues = assign_slices(
            rule, slice_items, location=f"{location}.{rule.json_name}", source=scope.structure.url
        )
        scope.issues.extend(issues)
        for slice_rule, index in matched:
            self._item(scope, slice_rule, items[index])

    def _item(self, scope: Scope, rule: ElementRule, item: Item) -> None:
        value, location, issues = item.value, item.location, scope.issues
        type_code = item.type_code or (rule.types[0].code if len(rule.types) == 1 else None)
        if rule.is_choice and type_code not in {t.code for t in rule.types}:
            issues.append(
                Issue("structure", f"{rule.path}: type {type_code} is not allowed here", "error", (location,))
            )
            return
        issues.extend(check_not_empty(value, location))
        issues.extend(check_fixed_pattern(rule, value, location, scope.structure.url))
        if type_code is None:
            return
        if rule.binding is not None:
            issues.extend(self._bindings.check(rule.binding, type_code, value, location))
        if type_code == "Reference":
            issues.extend(self._references.check(rule, value, scope.root, location, scope.structure.url))
        elif type_code == "Coding":
            issues.extend(check_known_code(self._terminology, value, location))
        elif type_code == "Extension":
            issues.extend(check_extension_shape(value, location))
        type_path = type_code if rule.is_choice else rule.path
        self._constraints(scope, rule, value, location, type_path)
        if isinstance(value, dict):
            self._descend(scope, rule, type_code, value, location)

    def _descend(
        self, scope: Scope, rule: ElementRule, type_code: str, value: JsonDict, location: str
    ) -> None:
        if rule.children:  # the profile lists the children; the data type's own invariants still apply
            if type_code not in INLINE_TYPES and type_code in self._index.type_names:
                base = self._index.base(type_code)
                if base is not None:
                    self._constraints(scope.inside(base), base.root, value, location, base.type)
            self._children(scope, rule, value, location)
            return
        if rule.content_reference:
            target = scope.structure.content_target(rule.content_reference)
            if target is not None:
                self._children(scope, target, value, location)
            return
        if type_code in INLINE_TYPES:
            return
        if type_code in RESOURCE_TYPES or type_code in self._index.resource_types:
            nested = self._index.base(str(value.get("resourceType", "")))
            if nested is not None:
                inner = scope.nested(nested, value, contained=rule.name == "contained")
                self._resource(inner, value, location)
            return
        structure = self._type_structure(rule, type_code, value)
        if structure is not None:
            inner = scope.inside(structure)
            self._constraints(inner, structure.root, value, location, structure.type)
            self._children(inner, structure.root, value, location)

    def _type_structure(self, rule: ElementRule, type_code: str, value: JsonDict) -> CompiledStructure | None:
        """The definition to walk a complex value with: the element's type profile, a known
        extension's definition, or the data type's core definition."""
        for type_ref in rule.types:
            if type_ref.code == type_code:
                for profile in type_ref.profiles:
                    structure = self._index.by_url(profile)
                    if structure is not None:
                        return structure
        if (
            type_code == "Extension"
            and isinstance(value.get("url"), str)
            and self._index.is_profile(value["url"])
        ):
            return self._index.by_url(value["url"])
        return self._index.base(type_code)

    def _constraints(self, scope: Scope, rule: ElementRule, node: Any, location: str, type_path: str) -> None:
        for constraint in rule.constraints:
            outcome = self._invariants.check(
                constraint, node=node, type_path=type_path, resource=scope.resource, root=scope.root
            )
            if outcome is True:
                continue
            if isinstance(outcome, Unevaluable):
                message = f"Constraint {constraint.key} was not checked: {outcome.reason}"
                scope.issues.append(Issue("informational", message, "information", (location,)))
            else:
                message = f"Constraint failed: {constraint.key}: {constraint.human} ({scope.structure.url})"
                severity = "warning" if constraint.severity == "warning" else "error"
                scope.issues.append(Issue("invariant", message, severity, (location,)))


def _items(value: Any, extension: Any, type_code: str | None, location: str) -> list[Item]:
    """The values of one JSON property (a list or a single value) paired with their ``_name`` parts."""
    if isinstance(value, list) or isinstance(extension, list):
        values = value if isinstance(value, list) else []
        extensions = extension if isinstance(extension, list) else []
        count = max(len(values), len(extensions))
        return [
            Item(
                values[i] if i < len(values) else None,
                extensions[i] if i < len(extensions) else None,
                type_code,
                f"{location}[{i}]",
            )
            for i in range(count)
            if (i < len(values) and values[i] is not None)
            or (i < len(extensions) and extensions[i] is not None)
        ]
    if value is None and extension is None:
        return []
    return [Item(value, extension, type_code, location)]
