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

Anything else falls back to ``fhirpathpy`` (with its R4 model), compiled once per expression.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from fhir_server.conformance import spec_data
from fhir_server.conformance.registry import expression_root, split_union

logger = logging.getLogger(__name__)

PathFn = Callable[[dict[str, Any]], list[Any]]
Step = Callable[[list[Any]], list[Any]]

_ROOTS = ("Resource", "DomainResource")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHERE_RESOLVE = re.compile(r"resolve\(\)\s+is\s+([A-Za-z]+)$")
_WHERE_EQ = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*'([^']*)'$")
_TYPE_CALL = re.compile(r"(as|ofType)\(\s*([A-Za-z]+)\s*\)$")
_EXTENSION_CALL = re.compile(r"extension\(\s*'([^']*)'\s*\)$")


class Unsupported(Exception):
    """The expression uses FHIRPath this compiler does not handle; use fhirpathpy."""


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
    def step(items: list[Any]) -> list[Any]:
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

    def step(items: list[Any]) -> list[Any]:
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


def _where_resolve_is(type_name: str) -> Step:
    def step(items: list[Any]) -> list[Any]:
        return [
            item
            for item in items
            if type(item) is dict
            and isinstance(item.get("reference"), str)
            and reference_type(item["reference"]) == type_name
        ]

    return step


def _where_equals(name: str, literal: str) -> Step:
    def step(items: list[Any]) -> list[Any]:
        return [item for item in items if type(item) is dict and item.get(name) == literal]

    return step


def _extension(url: str) -> Step:
    def step(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if type(item) is dict:
                out.extend(e for e in item.get("extension", ()) if e.get("url") == url)
        return out

    return step


def _index(position: int) -> Step:
    def step(items: list[Any]) -> list[Any]:
        return items[position : position + 1]

    return step


_SHAPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "Reference": lambda v: type(v) is dict and ("reference" in v or "identifier" in v),
    "Identifier": lambda v: type(v) is dict and "value" in v,
    "CodeableConcept": lambda v: type(v) is dict and ("coding" in v or "text" in v),
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
}


def _shape_filter(type_name: str) -> Step:
    check = _SHAPE_CHECKS.get(type_name)
    if check is None:
        raise Unsupported(f"type test on {type_name}")

    def step(items: list[Any]) -> list[Any]:
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

    def compile(self) -> list[Step]:
        self._expression(self.text, first=True)
        self._flush()
        return self.steps

    def _flush(self) -> None:
        if self.pending is not None:
            self.steps.append(_choice(self.pending))
            self.pending = None

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
            return  # the resource type (or Resource / DomainResource)
        self._flush()
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
            items = step(items)
            if not items:
                return items
        return items

    return path


def _fallback(expression: str) -> PathFn:
    import fhirpathpy
    from fhirpathpy.models import models

    compiled = fhirpathpy.compile(expression, models["r4"])

    def path(resource: dict[str, Any]) -> list[Any]:
        try:
            result = compiled(resource, {})
        except Exception:  # a FHIRPath runtime error must not block a write; index nothing
            logger.warning("fhirpath evaluation failed for a search expression", exc_info=True)
            return []
        return [r for r in result if r is not None]

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


@cache
def compile_expression(expression: str, *, rooted: bool = True) -> PathFn:
    """A function resource -> list of values for a (type-narrowed) search expression.

    ``rooted=False`` compiles a composite component's expression, relative to its focus element.
    """
    paths: list[PathFn] = []
    for part in split_union(expression):
        if rooted and expression_root(part) not in _ROOTS and not expression_root(part)[:1].isupper():
            paths.append(_fallback(part))
            continue
        try:
            paths.append(_run(_Compiler(part, rooted=rooted).compile()))
        except Unsupported:
            paths.append(_fallback(part))
    return _union(paths)
