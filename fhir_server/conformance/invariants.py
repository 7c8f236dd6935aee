"""FHIRPath invariants (ElementDefinition.constraint) evaluated with fhirpathpy.

Expressions are compiled once and cached. fhirpathpy lacks a few FHIR-specific functions; we add
``hasValue``, ``htmlChecks`` and ``memberOf`` and report the rest (``resolve``, ``conformsTo``) as
not evaluable instead of failing. A result that is empty counts as satisfied, like a missing value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from typing import Any

from fhir_server.conformance.structure import Constraint
from fhir_server.conformance.terminology import Terminology

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
Compiled = Callable[[Any, dict[str, Any]], list[Any]]

# Narrative XHTML: the elements FHIR allows (txt-1); event handlers and scripts never pass.
_ALLOWED_TAGS = (
    "a abbr acronym b big blockquote br caption cite code col colgroup dd dfn div dl dt em h1 h2 h3 h4 h5 h6 "
    "hr i img li ol p pre q samp small span strong sub sup table tbody td tfoot th thead tr tt ul var"
)
NARRATIVE_ELEMENTS = frozenset(_ALLOWED_TAGS.split(" "))


def _has_all(*names: str) -> Callable[[Any], bool]:
    return lambda node: isinstance(node, dict) and all(name in node for name in names)


def _local_reference(node: Any) -> bool:
    reference = node.get("reference") if isinstance(node, dict) else None
    return isinstance(reference, str) and reference.startswith("#")


_R4B_NEW = (
    "Citation Evidence EvidenceReport EvidenceVariable MedicinalProductDefinition PackagedProductDefinition "
    "AdministrableProductDefinition Ingredient ClinicalUseDefinition RegulatedAuthorization "
    "SubstanceDefinition SubscriptionStatus SubscriptionTopic"
)
_R4B_RESOURCES = frozenset(_R4B_NEW.split(" "))  # dom-r4b: new in R4B, not to be contained in R4 ones

# Hot core invariants and when they can fail at all; otherwise they hold without running FHIRPath
# (they run on every resource or Reference, and FHIRPath costs ~100 us per evaluation).
CAN_FAIL: dict[str, Callable[[Any], bool]] = {
    "dom-2": _has_all("contained"),
    "dom-4": _has_all("contained"),
    "dom-5": _has_all("contained"),
    "dom-r4b": lambda node: isinstance(node, dict) and str(node.get("resourceType")) in _R4B_RESOURCES,
    "ref-1": _local_reference,
    "per-1": _has_all("start", "end"),
}


@dataclass(frozen=True, slots=True)
class Unevaluable:
    """Why an invariant could not be evaluated (reported as an informational issue)."""

    reason: str


class _NarrativeChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ok = True
        self.has_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in NARRATIVE_ELEMENTS:
            self.ok = False
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.ok = False
        if tag == "img":
            self.has_text = True

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.has_text = True


def html_checks(inputs: list[Any]) -> bool:
    """txt-1/txt-2: only allowed XHTML, no active content, some non-whitespace content."""
    if len(inputs) != 1 or not isinstance(inputs[0], str):
        return False
    checker = _NarrativeChecker()
    checker.feed(inputs[0])
    checker.close()
    return checker.ok and checker.has_text


def has_value(inputs: list[Any]) -> bool:
    return len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)


@dataclass(frozen=True)
class _FhirPath:
    compile: Any
    parse: Any
    create_node: Any
    model: Any
    builtins: frozenset[str]


@cache
def _fhirpath() -> _FhirPath:
    """fhirpathpy's entry points, R4 model and built-in function names (imported lazily: importing
    its models reads files)."""
    import fhirpathpy
    from fhirpathpy.engine.invocations import invocation_registry
    from fhirpathpy.engine.nodes import ResourceNode
    from fhirpathpy.models import models
    from fhirpathpy.parser import parse

    return _FhirPath(
        fhirpathpy.compile, parse, ResourceNode.create_node, models["r4"], frozenset(invocation_registry)
    )


def _function_names(node: Any) -> set[str]:
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if current.get("type") == "Functn" and current.get("children"):
                names.add(str(current["children"][0].get("text", "")))
            stack.extend(current.get("children", ()))
    return names


class InvariantEngine:
    """Evaluates constraints; compiled expressions are cached per engine."""

    def __init__(self, terminology: Terminology | None = None) -> None:
        self._terminology = terminology
        self._compiled: dict[str, Compiled | Unevaluable] = {}
        self._functions = {
            "hasValue": {"fn": has_value},
            "htmlChecks": {"fn": html_checks},
            "memberOf": {"fn": self._member_of, "arity": {1: ["String"]}},
        }

    def check(
        self, constraint: Constraint, *, node: Any, type_path: str, resource: Any, root: Any
    ) -> bool | Unevaluable:
        """True when satisfied, False when violated, Unevaluable when it cannot be evaluated."""
        can_fail = CAN_FAIL.get(constraint.key)
        if can_fail is not None and not can_fail(node):
            return True
        compiled = self._compile(constraint.expression)
        if isinstance(compiled, Unevaluable):
            return compiled
        fhirpath = _fhirpath()
        resource_node = isinstance(node, dict) and "resourceType" in node
        subject = node if resource_node else fhirpath.create_node(node, type_path)
        try:
            result = compiled(subject, {"resource": resource, "rootResource": root})
        except Exception as error:  # fhirpathpy raises bare Exceptions; never let one escape
            logger.debug("invariant %s failed to evaluate: %s", constraint.key, type(error).__name__)
            return Unevaluable("the expression could not be evaluated")
        return result != [False]

    def prepare(self, expression: str) -> bool:
        """Compile (and cache) an expression ahead of use; False when it cannot be evaluated."""
        return not isinstance(self._compile(expression), Unevaluable)

    def _compile(self, expression: str) -> Compiled | Unevaluable:
        if expression not in self._compiled:
            self._compiled[expression] = self._try_compile(expression)
        return self._compiled[expression]

    def _try_compile(self, expression: str) -> Compiled | Unevaluable:
        fhirpath = _fhirpath()
        try:
            missing = _function_names(fhirpath.parse(expression)) - fhirpath.builtins - set(self._functions)
        except Exception:
            return Unevaluable("the expression does not parse")
        if missing:
            return Unevaluable(f"unsupported FHIRPath function {', '.join(sorted(missing))}()")
        options = {"userInvocationTable": self._functions, "traceFn": lambda *_: None}
        compiled: Compiled = fhirpath.compile(expression, fhirpath.model, options)
        return compiled

    def _member_of(self, inputs: list[Any], url: str) -> list[bool]:
        expansion = self._terminology.expansion(url) if self._terminology else None
        if expansion is None or len(inputs) != 1:
            return []
        value = inputs[0]
        if isinstance(value, str):
            return [expansion.has_code(value)]
        if isinstance(value, dict):
            codings = value["coding"] if isinstance(value.get("coding"), list) else [value]
            return [
                any(
                    isinstance(c, dict) and expansion.has_coding(c.get("system"), str(c.get("code", "")))
                    for c in codings
                )
            ]
        return []
