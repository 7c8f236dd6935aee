"""Code systems and value sets: the clinic's own (``profiles/``) and the official ones that required
bindings name and that can be enumerated (``fhir_server/spec/valuesets-required.json``).

Answers membership questions for binding checks and enumerates value sets for ``$expand``.
Value sets that cannot be enumerated here (UCUM, BCP-47, SNOMED CT ...) answer None: "unknown".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

from fhir_server.conformance.profiles import ConformanceResources

JsonDict = dict[str, Any]
MEDIA_TYPES = "urn:ietf:bcp:13"


@cache
def _official() -> JsonDict:
    raw = resources.files("fhir_server.spec").joinpath("valuesets-required.json").read_bytes()
    data: JsonDict = orjson.loads(raw)
    return data


def official_expansions() -> dict[str, JsonDict]:
    """Official value set URL -> {"name", "title", "version", "concepts": [[system, code, display]]}."""
    expansions: dict[str, JsonDict] = _official()["valueSets"]
    return expansions


def official_not_enumerable() -> frozenset[str]:
    """Official value sets that required bindings name but that need an external terminology."""
    return frozenset(_official()["notEnumerable"])


def _media_type(code: str) -> str:
    """``Image/JPEG; charset=x`` -> ``image/jpeg``: parameters and case carry no meaning for membership."""
    return code.split(";", 1)[0].strip().lower()


# How codes of some systems are compared; others compare exactly.
CODE_NORMALIZERS: dict[str, Callable[[str], str]] = {MEDIA_TYPES: _media_type}


def _normalize(system: str, code: str) -> str:
    normalizer = CODE_NORMALIZERS.get(system)
    return normalizer(code) if normalizer else code


@dataclass(frozen=True, slots=True)
class Concept:
    system: str
    code: str
    display: str = ""


@dataclass(slots=True)
class Expansion:
    """The enumerated concepts of a value set, with fast membership sets."""

    concepts: tuple[Concept, ...]
    pairs: frozenset[tuple[str, str]] = field(init=False)
    codes: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.pairs = frozenset((c.system, _normalize(c.system, c.code)) for c in self.concepts)
        self.codes = frozenset(_normalize(c.system, c.code) for c in self.concepts)

    def has_coding(self, system: Any, code: Any) -> bool:
        if not isinstance(system, str) or not isinstance(code, str):
            return False
        return (system, _normalize(system, code)) in self.pairs

    def has_code(self, code: Any) -> bool:
        if not isinstance(code, str):
            return False
        return code in self.codes or any(_normalize(s, code) in self.codes for s in CODE_NORMALIZERS)


@dataclass(frozen=True, slots=True)
class CodeSystemIndex:
    """One of the clinic's code systems: its concepts (depth-first) and their descendants."""

    url: str
    concepts: tuple[Concept, ...]
    descendants: dict[str, tuple[str, ...]]  # code -> codes below it (not itself)

    @classmethod
    def build(cls, code_system: JsonDict) -> CodeSystemIndex:
        url = code_system["url"]
        flat: list[Concept] = []
        descendants: dict[str, tuple[str, ...]] = {}

        def visit(concept: JsonDict) -> list[str]:
            flat.append(Concept(url, concept["code"], concept.get("display", "")))
            below: list[str] = []
            for child in concept.get("concept", ()):
                below.append(child["code"])
                below.extend(visit(child))
            descendants[concept["code"]] = tuple(below)
            return below

        for concept in code_system.get("concept", ()):
            visit(concept)
        return cls(url=url, concepts=tuple(flat), descendants=descendants)

    def has(self, code: str) -> bool:
        return code in self.descendants

    def filtered(self, op: str, value: str) -> list[Concept] | None:
        """Concepts selected by a ``concept`` filter; None for an unsupported operator."""
        selected = FILTERS.get(op)
        if selected is None or value not in self.descendants:
            return None if selected is None else []
        codes = set(selected(self, value))
        return [c for c in self.concepts if c.code in codes]


FILTERS: dict[str, Callable[[CodeSystemIndex, str], Iterable[str]]] = {
    "is-a": lambda cs, code: (code, *cs.descendants[code]),
    "descendent-of": lambda cs, code: cs.descendants[code],
    "is-not-a": lambda cs, code: set(cs.descendants) - {code, *cs.descendants[code]},
    "=": lambda cs, code: (code,),
}


class Terminology:
    """Membership and enumeration over the clinic's and the official enumerable value sets."""

    def __init__(self, conformance: ConformanceResources) -> None:
        self._conformance = conformance
        self._code_systems = {
            cs["url"]: CodeSystemIndex.build(cs)
            for cs in conformance.all_by_type("CodeSystem")
            if cs.get("content") == "complete"
        }
        self._expansions: dict[str, Expansion | None] = {}

    def value_set(self, url: str) -> JsonDict | None:
        """The clinic ValueSet resource, or a minimal one for an official enumerable value set."""
        url = url.split("|")[0]
        own = self._conformance.by_url(url)
        if own is not None and own.get("resourceType") == "ValueSet":
            return own
        official = official_expansions().get(url)
        if official is None:
            known = url in official_not_enumerable()
            return {"resourceType": "ValueSet", "url": url, "status": "active"} if known else None
        return {
            "resourceType": "ValueSet",
            "url": url,
            "version": official.get("version"),
            "name": official.get("name"),
            "title": official.get("title"),
            "status": "active",
        }

    def expansion(self, url: str) -> Expansion | None:
        """The enumerated value set, None when unknown or not enumerable here."""
        url = url.split("|")[0]
        if url not in self._expansions:
            self._expansions[url] = None  # guards against include cycles
            self._expansions[url] = self._expand(url, depth=0)
        return self._expansions[url]

    def code_system(self, url: str) -> CodeSystemIndex | None:
        return self._code_systems.get(url)

    def is_known_code(self, system: str, code: str) -> bool | None:
        """Whether a clinic code system defines the code; None for other systems."""
        code_system = self._code_systems.get(system)
        return None if code_system is None else code_system.has(code)

    def _expand(self, url: str, *, depth: int) -> Expansion | None:
        own = self._conformance.by_url(url)
        if own is not None and own.get("resourceType") == "ValueSet":
            concepts = self._compose(own.get("compose", {}), depth=depth)
            return None if concepts is None else Expansion(tuple(concepts))
        official = official_expansions().get(url)
        if official is not None:
            return Expansion(tuple(Concept(*c) for c in official["concepts"]))
        return None

    def _compose(self, compose: JsonDict, *, depth: int) -> list[Concept] | None:
        included: dict[tuple[str, str], Concept] = {}
        for include in compose.get("include", ()):
            concepts = self._select(include, depth=depth)
            if concepts is None:
                return None
            included.update(((c.system, c.code), c) for c in concepts)
        for exclude in compose.get("exclude", ()):
            concepts = self._select(exclude, depth=depth)
            if concepts is None:
                return None
            for concept in concepts:
                included.pop((concept.system, concept.code), None)
        return list(included.values())

    def _select(self, include: JsonDict, *, depth: int) -> list[Concept] | None:
        """The concepts one ``include`` (or ``exclude``) selects; None when not enumerable."""
        from_value_sets = self._from_value_sets(include.get("valueSet", ()), depth=depth)
        if from_value_sets is None:
            return None
        system = include.get("system")
        if system is None:
            return from_value_sets
        selected = self._from_system(system, include)
        if selected is None:
            return None
        if include.get("valueSet"):
            allowed = {(c.system, c.code) for c in from_value_sets}
            selected = [c for c in selected if (c.system, c.code) in allowed]
        return selected

    def _from_value_sets(self, urls: Iterable[str], *, depth: int) -> list[Concept] | None:
        result: list[Concept] | None = []
        for index, url in enumerate(urls):
            expansion = self.expansion(url) if depth < 5 else None
            if expansion is None:
                return None
            if index == 0:
                result = list(expansion.concepts)
            else:  # several value sets in one include: their intersection
                keep = {(c.system, c.code) for c in expansion.concepts}
                result = [c for c in result or () if (c.system, c.code) in keep]
        return result

    def _from_system(self, system: str, include: JsonDict) -> list[Concept] | None:
        code_system = self._code_systems.get(system)
        if include.get("concept"):
            displays = {c.code: c.display for c in code_system.concepts} if code_system else {}
            return [
                Concept(system, c["code"], c.get("display") or displays.get(c["code"], ""))
                for c in include["concept"]
            ]
        if code_system is None:
            return None
        selected = list(code_system.concepts)
        for filter_ in include.get("filter", ()):
            if filter_.get("property") != "concept":
                return None
            chosen = code_system.filtered(filter_.get("op", ""), filter_.get("value", ""))
            if chosen is None:
                return None
            keep = {c.code for c in chosen}
            selected = [c for c in selected if c.code in keep]
        return selected

    def known_value_sets(self) -> Iterator[str]:
        for value_set in self._conformance.all_by_type("ValueSet"):
            yield value_set["url"]
        yield from official_expansions()
