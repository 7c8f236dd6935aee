"""Running an element's FHIRPath invariants on one node, evaluating as few as possible.

An invariant's result is often known without FHIRPath (see :mod:`.invariant_scope`): a presence-only
expression is decided from the node's member names, and one that reads only its focus's members
has the result it had on the same members before (remembered per expression and type; member
values up to ``MEMO_MAX_BYTES``). Everything else goes to the
:class:`~fhir_server.conformance.invariants.InvariantEngine`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fhir_server.conformance.invariant_scope import holds, names_read, presence_rule
from fhir_server.conformance.invariants import InvariantEngine, Unevaluable
from fhir_server.conformance.structure import Constraint
from fhir_server.errors import Issue
from fhir_server.jsonio import dump_json

JsonDict = dict[str, Any]
MEMO_MAX_BYTES: Final = 512  # larger member values are rarely seen twice: evaluate, do not remember
MEMO_ENTRIES: Final = 10_000
Outcome = bool | Unevaluable


class ConstraintRunner:
    """Checks constraints for the base rules; one per validator (it keeps the memo)."""

    def __init__(self, engine: InvariantEngine) -> None:
        self._engine = engine
        self._memo: dict[tuple[str, str, bytes], Outcome] = {}

    def issues(
        self,
        constraints: tuple[Constraint, ...],
        node: Any,
        *,
        where: str,
        type_path: str,
        resource: Any,
        root: Any,
        member_names: Mapping[str, str] | None = None,
    ) -> list[Issue]:
        """The issues of ``node`` against ``constraints``. ``member_names`` maps the node's JSON
        member names to FHIRPath names (``valueQuantity`` -> ``value``); without it every
        constraint is evaluated."""
        found: list[Issue] = []
        present: frozenset[str] | None = None
        for constraint in constraints:
            outcome: Outcome | None = None
            if isinstance(node, dict) and member_names is not None:
                if present is None:
                    present = frozenset(_name(key, member_names) for key in node)
                outcome = self._known(constraint, node, type_path, present, member_names)
            if outcome is None:
                outcome = self._engine.check(
                    constraint, node=node, type_path=type_path, resource=resource, root=root
                )
            if outcome is True:
                continue
            if isinstance(outcome, Unevaluable):
                message = f"Constraint {constraint.key} was not checked: {outcome.reason}"
                found.append(Issue("informational", message, "information", (where,)))
            else:
                severity = "warning" if constraint.severity == "warning" else "error"
                message = f"Constraint failed: {constraint.key}: {constraint.human}"
                found.append(Issue("invariant", message, severity, (where,)))
        return found

    def _known(
        self,
        constraint: Constraint,
        node: JsonDict,
        type_path: str,
        present: frozenset[str],
        member_names: Mapping[str, str],
    ) -> Outcome | None:
        """The result when it can be known without evaluating on this node; None otherwise."""
        simple = presence_rule(constraint.expression)
        if simple is not None:
            return holds(simple, present)
        names = names_read(constraint.expression)
        if names is None:
            return None
        projection = {key: value for key, value in node.items() if _name(key, member_names) in names}
        if "resourceType" in node:
            projection["resourceType"] = node["resourceType"]
        text = dump_json(projection)
        if len(text) > MEMO_MAX_BYTES:
            return None
        key = (constraint.expression, type_path, text)
        if key not in self._memo:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = self._engine.check(
                constraint, node=projection, type_path=type_path, resource=projection, root=projection
            )
        return self._memo[key]


def _name(key: str, member_names: Mapping[str, str]) -> str:
    return member_names.get(key[1:] if key.startswith("_") else key, key)
