"""Compile search-parameter FHIRPath expressions into fast Python path functions.

Indexing runs on every write (a Synthea import indexes ~28,000 resources), so the common shapes
found in the R4B SearchParameters are compiled here into chains of plain dict/list steps:

    Type.a.b                        field navigation (lists flattened)
    Type.value / Type.effective     choice elements (``valueQuantity``, ``effectivePeriod`` ...)
    x as T, x.as(T), x.ofType(T)    choice type selection
    x.where(resolve() is T)         references to type T
    x.where(field = 'literal')      equality filter
    x.extension('url')              extensions by URL
    x[0]                            index
    a | b                           unions

Anything else falls back to our FHIRPath evaluator (``fhir_server.fhirpath``), compiled once per
expression. For indexing, ``resolve()`` answers with the referenced type (a stub resource) when the
target is not inside the resource, so ``x.where(resolve() is Patient)`` works on plain references.
The fast paths give the evaluator's answer on every shape they take (tests/fhirpath checks it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from fhir_server import fhirpath as evaluator
from fhir_server.conformance import spec_data
from fhir_server.conformance.registry import expression_root, split_union
from fhir_server.fhirpath import FhirPathError, FhirServices, Node
from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.model import r4b_model

logger = logging.getLogger(__name__)

PathFn = Callable[[dict[str, Any]], list[Any]]
Step = Callable[[list[Any], dict[str, Any]], list[Any]]  # (items, the resource) -> items

_ROOTS = ("Resource", "DomainResource")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHERE_RESOLVE = re.compile(r"resolve\(\)\s+is\s+([A-Za-z]+)$")
_WHERE_EQ = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*'([^']*)'$")
_TYPE_CALL = re.compile(r"(as|ofType)\(\s*([A-Za-z]+)\s*\)$")
_EXTENSION_CALL = re.compile(r"extension\(\s*'([^']*)'\s*\)$")


class Unsupported(Exception):
    """The expression uses FHIRPath this compiler does not handle; use the evaluator."""


@cache
def _choice_names() -> frozenset[str]:
    return frozenset(spec_data.fhirpath_hints()["choice_names"])


@cache
def _type_suffixes() -> tuple[str, ...]:
    names = spec_data.fhirpath_hints()["type_names"]
    return tuple(n[0].upper() + n[1:] for n in names if n not in ("BackboneElement", "DataType", "Element"))


def _suffix(type_name: str) -> str:
    return type_name[0].upper() + type_name[1:]


# ----- steps ----------------------------------------------------------------------------------------


def _field(name: str) -> Step:
    def step(items: list[Any], resource: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if type(item) is dict:
                value = item.get(name)
                if value is None:
                    continue
                if type(value) is list:
                    out.extend(value)
                else:
                    out.append(value)
        return out

    return step


def _choice(name: str) -> Step:
    """``value`` on an element whose JSON holds ``valueQuantity`` / ``valueString`` ..."""
    keys = frozenset((name, *(name + s for s in _type_suffixes())))

    def step(items: list[Any], resource: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if type(item) is not dict:
                continue
            for key, value in item.items():  # a dozen keys beats probing sixty names
                if key not in keys or value is None:
                    continue
                if type(value) is list:
                    out.extend(value)
                else:
                    out.append(value)
        return out

    return step


def reference_type(reference: str) -> str | None:
    """The resource type a literal reference points to ("Patient/1", "http://x/fhir/Patient/1")."""
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2]
    return None


def _contained_type(resource: dict[str, Any], reference: str) -> str | None:
    for contained in resource.get("contained", ()) or ():
        if isinstance(contained, dict) and contained.get("id") == reference[1:]:
            return str(contained.get("resourceType"))
    return None


def _referenced_type(resource: dict[str, Any], reference: str) -> str | None:
    if reference.startswith("#"):
        return _contained_type(resource, reference)
    return reference_type(reference)


def _where_resolve_is(type_name: str) -> Step:
    def step(items: list[Any], resource: dict[str, Any]) -> list[Any]:
        return [
            item
            for item in items
            if type(item) is dict
            and isinstance(item.get("reference"), str)
            and _referenced_type(resource, item["reference"]) == type_name
        ]

    return step


def _where_equals(name: str, literal: str) -> Step:
    def step(items: list[Any], resource: dict[str, Any]) -> list[Any]:
        return [item for item in items if type(item) is dict and item.get(name) == literal]

    return step


def _extension(url: str) -> Step:
    def step(items: list[Any], resource: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if type(item) is dict:
                out.extend(e for e in item.get("extension", ()) if e.get("url") == url)
        return out

    return step


def _none(items: list[Any], resource: dict[str, Any]) -> list[Any]:
    return []


def _index(position: int) -> Step:
    def step(items: list[Any], resource: dict[str, Any]) -> list[Any]:
        return items[position : position + 1]

    return step


_SHAPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "Reference": lambda v: type(v) is dict and ("reference" in v or "identifier" in v),
    "Identifier": lambda v: type(v) is dict and "value" in v,
    "CodeableConcept": lambda v: type(v) is dict and ("coding" in v or "text" in v),
}  # no primitives: `code as string` is empty in FHIRPath while every code is a JSON string


def _shape_filter(type_name: str) -> Step:
    check = _SHAPE_CHECKS.get(type_name)
    if check is None:
        raise Unsupported(f"type test on {type_name}")

    def step(items: list[Any], resource: dict[str, Any]) -> list[Any]:
        return [item for item in items if check(item)]

    return step


# ----- parsing --------------------------------------------------------------------------------------


class _Compiler:
    """Turns one union-free expression part into a list of steps (raises Unsupported)."""

    def __init__(self, text: str, *, rooted: bool) -> None:
        self.text = text.strip()
        self.rooted = rooted
        # Pending choice name: a choice step not yet emitted, so that `as T` can pick its key.
        self.pending: str | None = None
        self.steps: list[Step] = []
        self.model = r4b_model()
        self.type: str | None = None  # the model type of the current items, when known

    def compile(self) -> list[Step]:
        self._expression(self.text, first=True)
        self._flush()
        return self.steps

    def _flush(self) -> None:
        if self.pending is not None:
            self.steps.append(_choice(self.pending))
            self.pending = None
            self.type = None

    def _expression(self, text: str, *, first: bool) -> None:
        text = text.strip()
        as_match = re.match(r"^(.*\S)\s+as\s+([A-Za-z]+)$", text, re.S)
        if as_match and _balanced(as_match.group(1)):
            self._expression(as_match.group(1), first=first)
            self._type_select(as_match.group(2))
            return
        for index, segment in enumerate(_segments(text)):
            self._segment(segment, first=first and index == 0)

    def _segment(self, segment: str, *, first: bool) -> None:
        if segment.startswith("("):
            self._expression(segment[1:-1], first=first)
            return
        if segment.startswith("["):
            self._flush()
            self.steps.append(_index(int(segment[1:-1])))
            return
        if segment.endswith(")"):
            self._call(segment)
            return
        if not _IDENT.fullmatch(segment):
            raise Unsupported(segment)
        if first and self.rooted:
            self.type = segment if self.model.knows(segment) else None
            return  # the resource type (or Resource / DomainResource)
        if first and segment[:1].isupper():
            raise Unsupported(segment)  # a type name where a relative path is expected
        self._flush()
        spec = self.model.element(self.type, segment) if self.type is not None else None
        if spec is not None:
            if spec.choice_keys is not None:
                self.pending = segment
            else:
                self.steps.append(_field(segment))
                self.type = spec.types[0] if spec.types[0] != "Resource" else None
            return
        if self.type is not None:
            raise Unsupported(segment)  # not an element of this type: the evaluator says what it means
        if segment in _choice_names():
            self.pending = segment
        else:
            self.steps.append(_field(segment))

    def _call(self, segment: str) -> None:
        type_call = _TYPE_CALL.fullmatch(segment)
        if type_call:
            self._type_select(type_call.group(2))
            return
        extension = _EXTENSION_CALL.fullmatch(segment)
        if extension:
            self._flush()
            self.steps.append(_extension(extension.group(1)))
            self.type = "Extension"
            return
        if segment.startswith("where(") and segment.endswith(")"):
            condition = segment[len("where(") : -1].strip()
            self._flush()
            resolve = _WHERE_RESOLVE.fullmatch(condition)
            if resolve:
                self.steps.append(_where_resolve_is(resolve.group(1)))
                return
            equals = _WHERE_EQ.fullmatch(condition)
            if equals:
                self.steps.append(_where_equals(equals.group(1), equals.group(2)))
                return
        raise Unsupported(segment)

    def _type_select(self, type_name: str) -> None:
        if self.pending is not None:
            self.steps.append(_field(self.pending + _suffix(type_name)))
            self.pending = None
            self.type = type_name if self.model.knows(type_name) else None
            return
        current = self.type
        if current is not None:
            kind = self.model.types[current].kind
            if current == type_name or (kind != "primitive" and self.model.is_subtype(current, type_name)):
                return  # always of that type: nothing to filter
            self.steps.append(_none)  # never of that type
            return
        self.steps.append(_shape_filter(type_name))


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _segments(text: str) -> list[str]:
    """Split ``a.b(x.y).c[0]`` into ``a``, ``b(x.y)``, ``c``, ``[0]`` (dots outside brackets/quotes)."""
    segments: list[str] = []
    depth = 0
    quote = False
    current: list[str] = []
    for ch in text:
        if ch == "'":
            quote = not quote
        if not quote:
            if ch in "([":
                if ch == "[" and depth == 0 and current:
                    segments.append("".join(current).strip())
                    current = []
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif ch == "." and depth == 0:
                segments.append("".join(current).strip())
                current = []
                continue
            elif ch.isspace() and depth == 0:
                raise Unsupported(text)  # operators (and, !=, exists() ...) are not ours
        current.append(ch)
    if quote or depth:
        raise Unsupported(text)
    segments.append("".join(current).strip())
    if any(not s for s in segments):
        raise Unsupported(text)
    return segments


def _run(steps: list[Step]) -> PathFn:
    def path(resource: dict[str, Any]) -> list[Any]:
        items: list[Any] = [resource]
        for step in steps:
            items = step(items, resource)
            if not items:
                return items
        return items

    return path


class _IndexingServices(FhirServices):
    """resolve() for indexing: inside the resource first, else a stub of the referenced type."""

    def resolve(self, reference: str, env: Env) -> Node | None:
        found = super().resolve(reference, env)
        if found is not None:
            return found
        type_name = reference_type(reference)
        return Node({"resourceType": type_name}, type_name) if type_name else None


INDEXING_SERVICES = _IndexingServices()


def _nothing(resource: dict[str, Any]) -> list[Any]:
    return []


def evaluator_path(expression: str) -> PathFn:
    """The evaluator's answer as a path function (the fallback of :func:`compile_expression`)."""
    try:
        # R4B search expressions cast collections (`useContext.value as Quantity`): filter them
        compiled = evaluator.compile_expression(expression, lenient_casts=True)
    except FhirPathError as error:  # a definition we cannot read must not block writes
        logger.warning("search expression not compiled (%s): %s", error.kind, error.message)
        return _nothing

    def path(resource: dict[str, Any]) -> list[Any]:
        try:
            result = compiled.evaluate(resource, services=INDEXING_SERVICES)
        except FhirPathError:  # a FHIRPath runtime error must not block a write; index nothing
            logger.warning("fhirpath evaluation failed for a search expression", exc_info=True)
            return []
        return [value for value in map(evaluator.to_json, result) if value is not None]

    return path


def _union(paths: list[PathFn]) -> PathFn:
    if len(paths) == 1:
        return paths[0]

    def path(resource: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for p in paths:
            out.extend(p(resource))
        return out

    return path


def compile_fast_path(part: str, *, rooted: bool = True) -> PathFn | None:
    """The fast path for one union-free part, or None when it takes the evaluator."""
    if rooted and expression_root(part) not in _ROOTS and not expression_root(part)[:1].isupper():
        return None
    try:
        return _run(_Compiler(part, rooted=rooted).compile())
    except Unsupported:
        return None


@cache
def compile_expression(expression: str, *, rooted: bool = True) -> PathFn:
    """A function resource -> list of values for a (type-narrowed) search expression.

    ``rooted=False`` compiles a composite component's expression, relative to its focus element.
    """
    paths: list[PathFn] = []
    for part in split_union(expression):
        paths.append(compile_fast_path(part, rooted=rooted) or evaluator_path(part))
    return _union(paths)
