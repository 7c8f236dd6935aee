"""Strict FHIR JSON against the R4B base definitions, in one pass over the instance.

Walks every property of the JSON (not only those a definition lists), so that unknown elements,
wrong JSON types, ``null`` and empty values, arrays where one value belongs (and the reverse),
malformed ``_name`` siblings and bad primitive values are found, together with the base rules:
cardinality, required bindings, reference target types, data type and resource invariants
(through :class:`~fhir_server.conformance.invariants.InvariantEngine`), the narrative subset,
Attachment size and hash, core extension contexts and value types, and Bundle rules.

Expressions are FHIRPath with indexes (``Patient.name[0].given[1]``); a choice element is
``Observation.value.ofType(Quantity)``, a ``_name`` sibling is reported at its element. Messages
never quote instance values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from fhir_server.conformance.attachments import attachment_issues
from fhir_server.conformance.bundles import bundle_issues
from fhir_server.conformance.constraints import ConstraintRunner
from fhir_server.conformance.element_checks import (
    BindingChecker,
    ReferenceChecker,
    check_contained_referenced,
    check_extension_shape,
)
from fhir_server.conformance.extensions import Site, check_core_extension
from fhir_server.conformance.invariants import InvariantEngine
from fhir_server.conformance.narrative import narrative_problem
from fhir_server.conformance.primitives import PRIMITIVE_TYPES, check_primitive
from fhir_server.conformance.structure import CompiledStructure, ElementRule
from fhir_server.conformance.structure_index import StructureIndex
from fhir_server.conformance.terminology import Terminology
from fhir_server.errors import Issue

JsonDict = dict[str, Any]
RESOURCE_TYPE_CODES: Final = frozenset({"Resource", "DomainResource"})
EXTENSION_KEYS: Final = frozenset({"extension", "modifierExtension"})
ELEMENT_KEYS: Final = frozenset({"id", "extension"})  # what a ``_name`` sibling may hold


@dataclass(frozen=True, slots=True)
class Prop:
    """One JSON property name of an object: its element, the type it carries and its JSON shape."""

    rule: ElementRule
    type_code: str
    name: str  # the element name in expressions ("value" for valueQuantity)
    choice: bool
    repeats: bool
    primitive: bool


@dataclass(slots=True)
class Shape:
    """The properties an object of one element (or type) may have, and the required ones."""

    props: dict[str, Prop]
    required: tuple[ElementRule, ...]
    names: dict[str, str] = field(init=False)  # JSON name -> FHIRPath name ("valueQuantity" -> "value")

    def __post_init__(self) -> None:
        self.names = {key: prop.name for key, prop in self.props.items()}


@dataclass(slots=True)
class Walk:
    """The state of one resource's walk: %resource, %rootResource and the issue sink."""

    resource: JsonDict
    root: JsonDict
    issues: list[Issue] = field(default_factory=list)

    def add(self, code: str, message: str, where: str, severity: str = "error") -> None:
        self.issues.append(Issue(code, message, severity, (where,)))


@dataclass(frozen=True, slots=True)
class Node:
    """The object being walked: its definition, where it is, and what it is (for extensions)."""

    structure: CompiledStructure
    rule: ElementRule
    location: str  # FHIRPath with indexes
    instance_path: str  # without indexes, through data types ("Patient.name.given")
    type_code: str
    resource: bool = False
    definition_path: str | None = None  # when not the rule's own (the _name part of a primitive)


class BaseRules:
    """Validates resources against the base definitions; one instance per validator (caches)."""

    def __init__(self, index: StructureIndex, terminology: Terminology, invariants: InvariantEngine) -> None:
        self._index = index
        self._terminology = terminology
        self._invariants = invariants
        self._bindings = BindingChecker(terminology)
        self._references = ReferenceChecker(index)
        self._shapes: dict[int, Shape] = {}
        self._runner = ConstraintRunner(invariants)

    def validate(self, resource: Any) -> list[Issue]:
        """Every issue of ``resource`` (a parsed JSON value) against the R4B base definitions."""
        if not isinstance(resource, dict):
            return [Issue("structure", "A resource must be a JSON object", "error", ())]
        walk = Walk(resource, resource)
        resource_type = resource.get("resourceType")
        self._resource(walk, resource, resource_type if isinstance(resource_type, str) else "Resource")
        return walk.issues

    # ----- resources -----------------------------------------------------------------------------

    def _resource(self, walk: Walk, resource: JsonDict, location: str) -> None:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            walk.add("required", "A resource must have a resourceType (a string)", f"{location}.resourceType")
            return
        structure = self._index.base(resource_type) if resource_type in self._index.resource_types else None
        if structure is None:
            walk.add("not-supported", f"Unknown resource type {resource_type}", f"{location}.resourceType")
            return
        node = Node(structure, structure.root, location, resource_type, resource_type, resource=True)
        self._object(walk, node, resource)
        walk.issues.extend(check_contained_referenced(resource, location))
        shape = self._shape(structure, structure.root)
        self._constraints(walk, structure.root, resource, location, resource_type, shape)
        if resource_type == "Bundle":
            walk.issues.extend(bundle_issues(resource, location))

    def _nested(self, walk: Walk, value: JsonDict, location: str, *, contained: bool) -> None:
        """A resource inside another: contained ones keep the container as %rootResource."""
        inner = Walk(value, walk.root if contained else value, walk.issues)
        self._resource(inner, value, location)

    # ----- objects and properties ----------------------------------------------------------------

    def _object(self, walk: Walk, node: Node, obj: JsonDict, shape: Shape | None = None) -> None:
        shape = shape or self._shape(node.structure, node.rule)
        present: set[str] = set()
        for key, value in obj.items():
            if key == "resourceType" and node.resource:
                continue
            if key.startswith("_"):
                self._sibling_only(walk, node, shape, obj, key, value)
                prop = shape.props.get(key[1:])
                if prop is not None:
                    present.add(prop.rule.element_id)
                continue
            prop = shape.props.get(key)
            if prop is None:
                walk.add("structure", f"Unknown element '{key}'", f"{node.location}.{key}")
                continue
            present.add(prop.rule.element_id)
            self._property(walk, node, prop, value, obj.get("_" + key))
            if key in EXTENSION_KEYS:
                self._extensions(walk, node, prop, value)
        for rule in shape.required:
            if rule.element_id not in present:
                message = f"{rule.path}: minimum required = {rule.min}, but only found 0"
                walk.add("required", message, f"{node.location}.{rule.json_name}")

    def _sibling_only(
        self, walk: Walk, node: Node, shape: Shape, obj: JsonDict, key: str, value: Any
    ) -> None:
        """A ``_name`` property: checked here when ``name`` is absent, else with its value."""
        prop = shape.props.get(key[1:])
        where = f"{node.location}.{key[1:]}"
        if prop is None or not prop.primitive:
            walk.add("structure", f"Unknown element '{key}'", where)
            return
        where = _where(node.location, prop)
        if key[1:] in obj:
            return
        if prop.repeats:
            if not isinstance(value, list) or not value:
                walk.add("structure", f"'{key}' must be a non-empty array", where)
                return
            for index, item in enumerate(value):
                if item is None:
                    walk.add(
                        "structure",
                        "An array item must not be null when it has no value",
                        f"{where}[{index}]",
                    )
                else:
                    self._element_part(walk, node, prop, item, f"{where}[{index}]")
        elif isinstance(value, list):
            walk.add("structure", f"'{key}' must not be an array: the element does not repeat", where)
        else:
            self._element_part(walk, node, prop, value, where)

    def _property(self, walk: Walk, node: Node, prop: Prop, value: Any, sibling: Any) -> None:
        where = _where(node.location, prop)
        if not prop.repeats:
            if isinstance(value, list):
                walk.add("structure", f"{prop.rule.path} does not repeat: it must not be an array", where)
            elif value is None:
                walk.add("structure", "null is not a value: leave the element out", where)
            else:
                if isinstance(sibling, list):
                    walk.add("structure", f"'_{prop.name}' must not be an array", where)
                    sibling = None
                self._value(walk, node, prop, value, sibling, where)
            return
        if not isinstance(value, list):
            walk.add("structure", f"{prop.rule.path} repeats: its value must be an array", where)
            return
        if not value:
            walk.add("structure", "An array must not be empty: leave the element out", where)
            return
        siblings: list[Any] = []
        if sibling is not None:
            if not isinstance(sibling, list) or len(sibling) != len(value):
                walk.add("structure", f"'_{prop.name}' must be an array as long as '{prop.name}'", where)
            else:
                siblings = sibling
        if prop.rule.max is not None and len(value) > prop.rule.max:
            message = f"{prop.rule.path}: maximum allowed = {prop.rule.max}, but found {len(value)}"
            walk.add("structure", message, where)
        for index, item in enumerate(value):
            part = siblings[index] if siblings else None
            if item is None:
                if not prop.primitive or part is None:
                    walk.add("structure", "null is not a value in this array", f"{where}[{index}]")
                else:
                    self._element_part(walk, node, prop, part, f"{where}[{index}]")
                continue
            self._value(walk, node, prop, item, part, f"{where}[{index}]")

    def _value(self, walk: Walk, node: Node, prop: Prop, value: Any, sibling: Any, where: str) -> None:
        rule, type_code = prop.rule, prop.type_code
        if prop.primitive:
            problem = check_primitive(type_code, value)
            if problem is None and type_code == "xhtml":
                problem = narrative_problem(value)
            if problem is not None:
                walk.add("value", problem, where)
            elif rule.binding is not None:
                walk.issues.extend(self._bindings.check(rule.binding, type_code, value, where))
            if sibling is not None:
                self._element_part(walk, node, prop, sibling, where)
            if rule.constraints:
                self._constraints(walk, rule, value, where, type_code if prop.choice else rule.path)
            return
        if not isinstance(value, dict):
            walk.add("structure", f"A {type_code} must be a JSON object", where)
            return
        if sibling is not None:
            walk.add("structure", f"'_{prop.name}' is only for primitive elements", where)
        if not value:
            walk.add("structure", "An object must not be empty: leave the element out", where)
            return
        if type_code in RESOURCE_TYPE_CODES or type_code in self._index.resource_types:
            self._nested(walk, value, where, contained=rule.name == "contained")
            return
        self._complex_checks(walk, prop, value, where)
        instance_path = f"{node.instance_path}.{prop.name}"
        child = self._child_node(node, prop, where, instance_path)
        shape = None
        if child is not None:
            shape = self._shape(child.structure, child.rule)
            if child.rule is not rule:  # the data type's (or the referenced element's) own invariants
                self._constraints(walk, child.rule, value, where, child.rule.path, shape)
            self._object(walk, child, value, shape)
        if rule.constraints:
            self._constraints(walk, rule, value, where, type_code if prop.choice else rule.path, shape)

    def _complex_checks(self, walk: Walk, prop: Prop, value: JsonDict, where: str) -> None:
        rule, type_code = prop.rule, prop.type_code
        if rule.binding is not None:
            walk.issues.extend(self._bindings.check(rule.binding, type_code, value, where))
        if type_code == "Reference":
            walk.issues.extend(self._references.check(rule, value, walk.root, where, "base definition"))
        elif type_code == "Extension":
            walk.issues.extend(check_extension_shape(value, where))
        elif type_code == "Attachment":
            walk.issues.extend(attachment_issues(value, where))

    def _element_part(self, walk: Walk, node: Node, prop: Prop, part: Any, where: str) -> None:
        """The ``_name`` object of a primitive: only ``id`` and ``extension``, not empty."""
        if not isinstance(part, dict):
            walk.add("structure", f"'_{prop.name}' must hold JSON objects", where)
            return
        if not part:
            walk.add("structure", "An object must not be empty: leave the element out", where)
            return
        for key in part:
            if key not in ELEMENT_KEYS:
                walk.add("structure", f"Unknown element '{key}' on a primitive value", f"{where}.{key}")
        # Element has no definition of its own here: Extension's id and extension are the same
        extension = self._index.base("Extension")
        clean = {k: v for k, v in part.items() if k in ELEMENT_KEYS}
        if extension is not None and clean:
            full = self._shape(extension, extension.root)
            shape = Shape({k: p for k, p in full.props.items() if k in ELEMENT_KEYS}, ())
            inner = Node(
                extension,
                extension.root,
                where,
                f"{node.instance_path}.{prop.name}",
                prop.type_code,
                definition_path=prop.rule.path,
            )
            self._object(walk, inner, clean, shape)

    def _extensions(self, walk: Walk, node: Node, prop: Prop, value: Any) -> None:
        if not isinstance(value, list):
            return
        site = Site(node.instance_path, node.definition_path or node.rule.path, node.type_code, node.resource)
        where = _where(node.location, prop)
        for index, extension in enumerate(value):
            walk.issues.extend(
                check_core_extension(extension, site, f"{where}[{index}]", self._index.choice_suffixes)
            )

    # ----- definitions ---------------------------------------------------------------------------

    def _child_node(self, node: Node, prop: Prop, where: str, instance_path: str) -> Node | None:
        """Where the children of a complex value are defined: inline (backbone elements), by a
        content reference, or by the data type's own definition."""
        rule = prop.rule
        if rule.children:
            return Node(node.structure, rule, where, instance_path, prop.type_code)
        if rule.content_reference:
            target = node.structure.content_target(rule.content_reference)
            return Node(node.structure, target, where, instance_path, prop.type_code) if target else None
        structure = self._index.base(prop.type_code)
        if structure is None:
            return None
        return Node(structure, structure.root, where, instance_path, prop.type_code)

    def _shape(self, structure: CompiledStructure, rule: ElementRule) -> Shape:
        shape = self._shapes.get(id(rule))
        if shape is None:
            shape = self._shapes[id(rule)] = self._build_shape(structure, rule)
        return shape

    def _build_shape(self, structure: CompiledStructure, rule: ElementRule) -> Shape:
        props: dict[str, Prop] = {}
        for child in rule.children:
            repeats = child.max is None or child.max > 1
            codes = [t.code for t in child.types] or ["BackboneElement"]
            if child.is_choice:
                for code in codes:
                    key = child.json_name + code[0].upper() + code[1:]
                    props[key] = Prop(child, code, child.json_name, True, repeats, code in PRIMITIVE_TYPES)
            else:
                code = codes[0]
                if child.name == "id" and structure.kind != "resource":
                    code = "string"  # Element.id is a string (ElementDefinition's snapshot says id)
                props[child.name] = Prop(child, code, child.name, False, repeats, code in PRIMITIVE_TYPES)
        required = tuple(child for child in rule.children if child.min > 0)
        return Shape(props, required)

    def _constraints(
        self, walk: Walk, rule: ElementRule, node: Any, where: str, type_path: str, shape: Shape | None = None
    ) -> None:
        if rule.constraints:
            walk.issues.extend(
                self._runner.issues(
                    rule.constraints,
                    node,
                    where=where,
                    type_path=type_path,
                    resource=walk.resource,
                    root=walk.root,
                    member_names=shape.names if shape is not None else None,
                )
            )


def _where(location: str, prop: Prop) -> str:
    if prop.choice:
        return f"{location}.{prop.name}.ofType({prop.type_code})"
    return f"{location}.{prop.name}"
