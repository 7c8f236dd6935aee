"""FHIRPath invariants (ElementDefinition.constraint) evaluated with our evaluator (fhir_server.fhirpath).

An invariant holds only when its expression evaluates to true (FHIR conformance rules: the
expression "SHALL evaluate to true"): false, an empty result and an execution error are all
violations, as in the HL7 validator. A few base invariants whose R4B expression yields empty
where their human text plainly holds get a pre-check in CAN_FAIL that answers first (see there).
What we cannot tell is reported as not evaluable instead: an expression that does not compile for
the element's type, a value set we cannot expand (memberOf), a profile we do not know (conformsTo).

Expressions are compiled once per (expression, element type) and cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhir_server.conformance.structure import Constraint
from fhir_server.conformance.terminology import Terminology
from fhir_server.fhirpath import CompiledExpression, FhirPathError, FhirServices, Node, compile_expression
from fhir_server.fhirpath.model import r4b_model
from fhir_server.fhirpath.narrative import NARRATIVE_ELEMENTS, html_checks
from fhir_server.fhirpath.nodes import system_value

logger = logging.getLogger(__name__)

__all__ = ["CAN_FAIL", "NARRATIVE_ELEMENTS", "InvariantEngine", "Unevaluable", "has_value", "html_checks"]

JsonDict = dict[str, Any]


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
# (they run on every resource or Reference). ref-1 also needs this for correctness: on a Reference
# without a `reference` (an identifier or display only) its R4B expression yields empty, while
# its rule ("SHALL have a contained resource if a local reference is provided") plainly holds.
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


def has_value(inputs: list[Any]) -> bool:
    """hasValue(): one primitive value (kept for callers; the evaluator has its own)."""
    return len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)


class _ValidatorServices(FhirServices):
    """memberOf() answered from the validator's terminology (None: the value set is unknown)."""

    def __init__(self, terminology: Terminology | None) -> None:
        self._terminology = terminology

    def member_of(self, value: Any, value_set: str) -> bool | None:
        expansion = self._terminology.expansion(value_set) if self._terminology else None
        if expansion is None:
            return None
        if isinstance(value, str):
            return expansion.has_code(value)
        if isinstance(value, dict):
            codings = value["coding"] if isinstance(value.get("coding"), list) else [value]
            return any(
                isinstance(c, dict) and expansion.has_coding(c.get("system"), str(c.get("code", "")))
                for c in codings
            )
        return False


@lru_cache(maxsize=8192)
def _element_type(type_path: str) -> str | None:
    """The model type of the element at ``type_path`` (``Patient``, ``HumanName``, ``Patient.name``
    -> ``HumanName``, ``Patient.contact`` -> its backbone type); None when not a single type."""
    model = r4b_model()
    if model.knows(type_path):
        return type_path
    head, _, rest = type_path.partition(".")
    current = head if model.knows(head) else None
    for name in rest.split(".") if rest else ():
        if current is None:
            return None
        spec = model.element(current, name.removesuffix("[x]"))
        if spec is None or len(spec.types) != 1:
            return None
        current = spec.types[0]
    return None if current == "Resource" else current


class InvariantEngine:
    """Evaluates constraints; compiled expressions are cached."""

    def __init__(self, terminology: Terminology | None = None) -> None:
        self._services = _ValidatorServices(terminology)

    def check(
        self, constraint: Constraint, *, node: Any, type_path: str, resource: Any, root: Any
    ) -> bool | Unevaluable:
        """True when satisfied, False when violated, Unevaluable when it cannot be evaluated."""
        can_fail = CAN_FAIL.get(constraint.key)
        if can_fail is not None and not can_fail(node):
            return True
        is_resource = isinstance(node, dict) and isinstance(node.get("resourceType"), str)
        context_type = node["resourceType"] if is_resource else _element_type(type_path)
        compiled = _compile(constraint.expression, context_type)
        if isinstance(compiled, Unevaluable):
            return compiled
        subject = node if is_resource else Node(node, context_type)
        try:
            result = compiled.evaluate(
                subject, resource=resource, root_resource=root, services=self._services
            )
        except FhirPathError as error:
            if error.kind == "execution":
                logger.debug("invariant %s failed while evaluating: %s", constraint.key, error.message)
                return False
            return Unevaluable(error.message)
        return _is_true(result)

    def prepare(self, expression: str) -> bool:
        """Compile (and cache) an expression ahead of use; False when it cannot be evaluated."""
        return not isinstance(_compile(expression, None), Unevaluable)


def _is_true(result: list[Any]) -> bool:
    """The result as the verdict: true only for a true boolean (a single non-boolean item counts
    as true, as FHIRPath's singleton evaluation says); false, empty or several items are not."""
    if len(result) != 1:
        return False
    value = system_value(result[0])
    return value if isinstance(value, bool) else True


@lru_cache(maxsize=4096)
def _compile(expression: str, context_type: str | None) -> CompiledExpression | Unevaluable:
    try:
        return compile_expression(expression, context_type)
    except FhirPathError as error:
        if context_type is not None and error.kind == "semantic":
            # a profile can put an invariant on a type our model reads differently: try untyped
            return _compile(expression, None)
        reason = "the expression does not parse" if error.kind == "syntax" else error.message
        return Unevaluable(reason)
