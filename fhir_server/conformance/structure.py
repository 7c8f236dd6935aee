"""Compiled StructureDefinitions: a snapshot's flat element list turned into a tree of rules.

The validator walks a resource alongside this tree. Only what validation reads is kept; a tree is
compiled once per StructureDefinition and cached by :class:`~.structure_index.StructureIndex`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

NO_VALUE: Any = object()  # no fixed/pattern value
BEST_PRACTICE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"
# Checked natively (cheaper than FHIRPath on every element; the narrative needs a real XML parser):
# see element_checks and narrative.
NATIVE_CONSTRAINTS = frozenset({"ele-1", "ext-1", "dom-3", "txt-1", "txt-2"})
EXTENSION_NAMES = frozenset({"extension", "modifierExtension"})


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Binding:
    strength: str  # required | extensible | preferred | example
    value_set: str  # canonical without its |version


@dataclass(frozen=True, slots=True)
class Constraint:
    key: str
    severity: str  # error | warning
    human: str
    expression: str


@dataclass(frozen=True, slots=True)
class Discriminator:
    type: str  # value | pattern | exists | type | profile
    path: str


@dataclass(frozen=True, slots=True)
class Slicing:
    discriminators: tuple[Discriminator, ...]
    rules: str  # open | closed | openAtEnd
    ordered: bool


URL_SLICING = Slicing((Discriminator("value", "url"),), "open", False)


@dataclass(slots=True)
class ElementRule:
    """One element of a snapshot, with its child elements and its slices."""

    element_id: str
    path: str
    name: str  # last path segment: "coding", "value[x]"
    min: int = 0
    max: int | None = None  # None: unbounded
    types: tuple[TypeRef, ...] = ()
    content_reference: str | None = None
    fixed: Any = NO_VALUE
    pattern: Any = NO_VALUE
    binding: Binding | None = None
    constraints: tuple[Constraint, ...] = ()
    slicing: Slicing | None = None
    slice_name: str | None = None
    children: list[ElementRule] = field(default_factory=list)
    slices: list[ElementRule] = field(default_factory=list)

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    @property
    def json_name(self) -> str:
        """The JSON property name (choice elements: the prefix, e.g. "value")."""
        return self.name[:-3] if self.is_choice else self.name

    def child(self, name: str) -> ElementRule | None:
        for child in self.children:
            if child.name == name:
                return child
        return None

    def effective_slicing(self) -> Slicing | None:
        """The declared slicing; extensions are implicitly sliced by url."""
        if self.slicing is not None:
            return self.slicing
        if self.slices and self.name in EXTENSION_NAMES:
            return URL_SLICING
        return None


@dataclass(slots=True)
class CompiledStructure:
    url: str
    type: str  # the resource or data type it constrains
    kind: str  # resource | complex-type
    root: ElementRule
    by_id: dict[str, ElementRule]

    def content_target(self, reference: str) -> ElementRule | None:
        """The element a ``contentReference`` ("#Questionnaire.item") points to."""
        return self.by_id.get(reference.rpartition("#")[2])


def compile_structure(definition: JsonDict) -> CompiledStructure:
    """Compile a StructureDefinition (full or compact form) that has a snapshot."""
    elements = definition.get("snapshot", {}).get("element") or definition.get("elements")
    if not elements:
        raise ValueError(f"StructureDefinition {definition.get('url')} has no snapshot")
    by_id: dict[str, ElementRule] = {}
    root: ElementRule | None = None
    for element in elements:
        rule = _rule(element)
        by_id[rule.element_id] = rule
        if root is None:
            root = rule
            continue
        _attach(rule, by_id)
    assert root is not None
    return CompiledStructure(
        url=definition["url"], type=definition["type"], kind=definition["kind"], root=root, by_id=by_id
    )


def _attach(rule: ElementRule, by_id: dict[str, ElementRule]) -> None:
    parent_id, _, last = rule.element_id.rpartition(".")
    if ":" in last:
        name = last.partition(":")[0]
        sliced = by_id.get(f"{parent_id}.{name}" if parent_id else name)
        if sliced is None:
            raise ValueError(f"slice {rule.element_id} has no sliced element")
        sliced.slices.append(rule)
        return
    parent = by_id.get(parent_id)
    if parent is None:
        raise ValueError(f"element {rule.element_id} has no parent")
    parent.children.append(rule)


def _rule(element: JsonDict) -> ElementRule:
    element_id = element.get("id") or element["path"]
    max_ = element.get("max", "*")
    rule = ElementRule(
        element_id=element_id,
        path=element["path"],
        name=element["path"].rpartition(".")[2],
        min=int(element.get("min", 0)),
        max=None if max_ == "*" else int(max_),
        types=tuple(_type(t) for t in element.get("type", ())),
        content_reference=element.get("contentReference"),
        binding=_binding(element.get("binding")),
        constraints=tuple(_constraints(element.get("constraint", ()))),
        slicing=_slicing(element.get("slicing")),
        slice_name=element.get("sliceName"),
    )
    for key, value in element.items():
        if key.startswith("fixed"):
            rule.fixed = value
        elif key.startswith("pattern"):
            rule.pattern = value
    return rule


def _type(type_: JsonDict) -> TypeRef:
    code = type_["code"]
    for extension in type_.get("extension", ()):
        if extension.get("url", "").endswith("structuredefinition-fhir-type"):
            code = extension.get("valueUrl", code)
    return TypeRef(
        code=code,
        profiles=tuple(type_.get("profile", ())),
        target_profiles=tuple(type_.get("targetProfile", ())),
    )


def _binding(binding: JsonDict | None) -> Binding | None:
    if (
        not binding
        or not binding.get("valueSet")
        or binding.get("strength") not in ("required", "extensible")
    ):
        return None
    return Binding(strength=binding["strength"], value_set=binding["valueSet"].split("|")[0])


def _constraints(constraints: Iterable[JsonDict]) -> Iterable[Constraint]:
    for constraint in constraints:
        best_practice = any(
            e.get("url") == BEST_PRACTICE_EXTENSION and e.get("valueBoolean")
            for e in constraint.get("extension", ())
        )
        if best_practice or constraint["key"] in NATIVE_CONSTRAINTS or not constraint.get("expression"):
            continue
        yield Constraint(
            key=constraint["key"],
            severity=constraint.get("severity", "error"),
            human=constraint.get("human", ""),
            expression=constraint["expression"],
        )


def _slicing(slicing: JsonDict | None) -> Slicing | None:
    if not slicing or not slicing.get("discriminator"):
        return None
    return Slicing(
        discriminators=tuple(Discriminator(d["type"], d["path"]) for d in slicing["discriminator"]),
        rules=slicing.get("rules", "open"),
        ordered=bool(slicing.get("ordered", False)),
    )
