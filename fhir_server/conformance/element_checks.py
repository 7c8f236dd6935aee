"""Checks on one element value: fixed and pattern values, bindings, reference targets, known codes.

Diagnostics quote the profile's values and codes, never values from the instance (they may be PHI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fhir_server.conformance.references import referenced_type
from fhir_server.conformance.structure import NO_VALUE, Binding, ElementRule
from fhir_server.conformance.structure_index import StructureIndex
from fhir_server.conformance.terminology import Expansion, Terminology
from fhir_server.conformance.values import as_list, describe, matches_fixed, matches_pattern
from fhir_server.errors import Issue

JsonDict = dict[str, Any]
CODED_PRIMITIVES = frozenset({"code", "string", "uri", "url", "canonical", "id", "oid", "uuid"})


def _issue(code: str, diagnostics: str, location: str, severity: str = "error") -> Issue:
    return Issue(code=code, diagnostics=diagnostics, severity=severity, expression=(location,))


def check_fixed_pattern(rule: ElementRule, value: Any, location: str, source: str) -> list[Issue]:
    if rule.fixed is not NO_VALUE and not matches_fixed(value, rule.fixed):
        return [
            _issue("value", f"{rule.path}: value must be exactly {describe(rule.fixed)} ({source})", location)
        ]
    if rule.pattern is not NO_VALUE and not matches_pattern(value, rule.pattern):
        return [
            _issue(
                "value",
                f"{rule.path}: value must match the pattern {describe(rule.pattern)} ({source})",
                location,
            )
        ]
    return []


class BindingChecker:
    """Required bindings are errors, extensible ones warnings; unknown value sets are skipped."""

    def __init__(self, terminology: Terminology) -> None:
        self._terminology = terminology
        self._by_type: dict[str, Callable[[Expansion, Any], str | None]] = {
            "Coding": self._coding,
            "CodeableConcept": self._codeable_concept,
            "CodeableReference": self._codeable_reference,
        }

    def check(self, binding: Binding, type_code: str, value: Any, location: str) -> list[Issue]:
        expansion = self._terminology.expansion(binding.value_set)
        if expansion is None or value is None or _text_only(binding, value):
            return []
        problem: str | None
        if type_code in CODED_PRIMITIVES:
            if not isinstance(value, str) or expansion.has_code(value):
                return []
            problem = "The code is not"
        else:
            check = self._by_type.get(type_code)
            if check is None or not isinstance(value, dict):
                return []
            problem = check(expansion, value)
            if problem is None:
                return []
        severity = "error" if binding.strength == "required" else "warning"
        message = f"{problem} in the value set {binding.value_set} ({binding.strength} binding)"
        return [_issue("code-invalid", message, location, severity)]

    @staticmethod
    def _coding(expansion: Expansion, value: JsonDict) -> str | None:
        """None when the coding is in the value set, else the start of the diagnostics."""
        system, code = value.get("system"), value.get("code")
        if isinstance(code, str) and expansion.has_coding(system, code):
            return None
        return "The coding is not"

    @classmethod
    def _codeable_reference(cls, expansion: Expansion, value: JsonDict) -> str | None:
        concept = value.get("concept")
        return cls._codeable_concept(expansion, concept) if isinstance(concept, dict) else None

    @staticmethod
    def _codeable_concept(expansion: Expansion, value: JsonDict) -> str | None:
        codings = [c for c in as_list(value.get("coding")) if isinstance(c, dict)]
        if not codings:
            return "A concept without a coding is not"
        if any(
            isinstance(c.get("code"), str) and expansion.has_coding(c.get("system"), c["code"])
            for c in codings
        ):
            return None
        return "None of the codings is"


def _text_only(binding: Binding, value: Any) -> bool:
    """An extensible binding accepts a concept that has only text."""
    return binding.strength == "extensible" and isinstance(value, dict) and not value.get("coding")


class ReferenceChecker:
    """Reference targets against the profile's target profiles (the type only: targets are not fetched)."""

    def __init__(self, index: StructureIndex) -> None:
        self._index = index
        self._allowed: dict[tuple[str, ...], frozenset[str] | None] = {}

    def allowed_types(self, target_profiles: tuple[str, ...]) -> frozenset[str] | None:
        """Resource types the target profiles allow; None: any."""
        if target_profiles not in self._allowed:
            types = {self._index.type_of(url) for url in target_profiles}
            unknown_or_any = not target_profiles or None in types or "Resource" in types
            self._allowed[target_profiles] = None if unknown_or_any else frozenset(t for t in types if t)
        return self._allowed[target_profiles]

    def check(self, rule: ElementRule, value: Any, root: Any, location: str, source: str) -> list[Issue]:
        targets = next((t.target_profiles for t in rule.types if t.code == "Reference"), ())
        allowed = self.allowed_types(targets)
        if allowed is None:
            return []
        actual = referenced_type(value, root)
        if actual is None or actual in allowed:
            return []
        expected = ", ".join(sorted(allowed))
        return [
            _issue(
                "structure",
                f"{rule.path}: a reference to {actual} is not allowed, expected {expected} ({source})",
                location,
            )
        ]


def check_known_code(terminology: Terminology, value: Any, location: str) -> list[Issue]:
    """A Coding from one of the clinic's code systems must use a code that system defines."""
    if not isinstance(value, dict):
        return []
    system, code = value.get("system"), value.get("code")
    if not isinstance(system, str) or not isinstance(code, str):
        return []
    if terminology.is_known_code(system, code) is False:
        return [_issue("code-invalid", f"Unknown code in the code system {system}", f"{location}.code")]
    return []


def check_not_empty(value: Any, location: str) -> list[Issue]:
    """ele-1: every element has a value or children."""
    if isinstance(value, dict) and not (value.keys() - {"id"}):
        return [_issue("structure", "ele-1: All FHIR elements must have a @value or children", location)]
    return []


def check_extension_shape(value: Any, location: str) -> list[Issue]:
    """ext-1: an extension has either nested extensions or a value, not both."""
    if not isinstance(value, dict):
        return []
    has_value = any(key.startswith("value") for key in value)
    if has_value == bool(value.get("extension")):
        return [_issue("invariant", "ext-1: Must have either extensions or value[x], not both", location)]
    return []


def check_contained_referenced(resource: JsonDict, location: str) -> list[Issue]:
    """dom-3: a contained resource is referenced from its container (or refers to it with "#")."""
    contained = [c for c in as_list(resource.get("contained")) if isinstance(c, dict)]
    if not contained:
        return []
    local = {value for value in _strings(resource) if value.startswith("#")}
    issues = []
    for index, item in enumerate(contained):
        referenced = isinstance(item.get("id"), str) and f"#{item['id']}" in local
        if not referenced and "#" not in set(_strings(item)):
            message = "dom-3: a contained resource must be referenced from elsewhere in the resource"
            issues.append(_issue("invariant", message, f"{location}.contained[{index}]"))
    return issues


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            yield current
        elif isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
