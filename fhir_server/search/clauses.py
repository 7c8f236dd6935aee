"""Clauses: the MongoDB conditions one search criterion becomes, and how they combine into a filter.

A clause has *indexed* conditions (single-field equality, ``$in`` or one-sided ranges, each served
by an index) and *residual* conditions (exact checks no single index entry can answer, e.g. a
condition that must hold for ONE value of a multi-valued field: an ``$elemMatch`` on the ``@r``
records). The indexed conditions always select a superset of the answer and the residuals cut it
down, so results are exact; residuals only ever run on candidates an index selected.

SecantusDB serves a query from one index: the first top-level field whose condition an index can
answer, and none at all when the filter has a top-level operator (``$and``/``$or``). So
``build_filter`` emits field-level conditions only, the most selective indexed one first, merging
conditions that share a field; a top-level ``$and``/``$or`` remains only for ORs across fields
(comma lists mixing prefixes, several granular-scope alternatives, multi-key sort keysets).
A real mongod plans over all fields either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Lower rank = more selective = earlier in the filter.
RANK_ID = 0
RANK_COMPARTMENT = 5
RANK_REFERENCE = 10
RANK_IDENTIFIER = 15
RANK_STRING = 20
RANK_TOKEN = 30
RANK_URI = 30
RANK_COMPOSITE = 35
RANK_NUMBER = 40
RANK_DATE = 45
RANK_OTHER = 60


@dataclass(frozen=True)
class Clause:
    indexed: tuple[tuple[str, Any], ...] = ()
    residual: tuple[dict[str, Any], ...] = ()
    rank: int = RANK_OTHER

    def as_filter(self) -> dict[str, Any]:
        parts = [{field: cond} for field, cond in self.indexed] + list(self.residual)
        if not parts:
            return {}
        if len(parts) == 1:
            return parts[0]
        return {"$and": parts}


NEVER = Clause(residual=({"_id": {"$in": []}},), rank=RANK_ID)


def equals(field: str, value: Any, rank: int) -> Clause:
    return Clause(indexed=((field, value),), rank=rank)


def _is_literal(cond: Any) -> bool:
    return not isinstance(cond, dict)


def any_of(clauses: list[Clause]) -> Clause:
    """OR of alternatives (comma-separated values)."""
    if len(clauses) == 1:
        return clauses[0]
    fields = {c.indexed[0][0] for c in clauses if len(c.indexed) == 1}
    simple = all(
        len(c.indexed) == 1 and not c.residual and (_is_literal(c.indexed[0][1]) or "$in" in c.indexed[0][1])
        for c in clauses
    )
    if simple and len(fields) == 1:
        values: list[Any] = []
        for c in clauses:
            cond = c.indexed[0][1]
            values.extend(cond["$in"] if isinstance(cond, dict) else [cond])
        return Clause(indexed=((fields.pop(), {"$in": list(dict.fromkeys(values))}),), rank=clauses[0].rank)
    return Clause(residual=({"$or": [c.as_filter() for c in clauses]},), rank=max(c.rank for c in clauses))


def _operators(cond: Any, *, first: bool) -> dict[str, Any]:
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
        return dict(cond)
    return {"$eq": cond} if first else {"$all": [cond]}


_TIGHTER: dict[str, Any] = {"$gt": max, "$gte": max, "$lt": min, "$lte": min}


def merge_conditions(existing: Any, new: Any) -> Any | None:
    """Two conditions on one field as one condition, or None when they cannot share a key.

    On an array field every operator is existential on its own ("some element > 5" and "some
    element < 9" may be different elements), which is exactly what two separate conditions
    mean, so merging operators never changes the answer.
    """
    merged = _operators(existing, first=True)
    for op, value in _operators(new, first="$eq" not in merged).items():
        if op not in merged:
            merged[op] = value
        elif op in ("$all", "$nin"):  # both are lists ANDed element-wise
            merged[op] = list(dict.fromkeys([*merged[op], *value]))
        elif op == "$elemMatch" and "$all" not in merged:
            # two records conditions, each met by some record: $all of $elemMatch
            merged["$all"] = [{"$elemMatch": merged.pop(op)}, {"$elemMatch": value}]
        elif op == "$elemMatch" and all(isinstance(v, dict) and "$elemMatch" in v for v in merged["$all"]):
            merged["$all"] = [*merged["$all"], {"$elemMatch": value}]
        elif op in _TIGHTER:
            try:
                merged[op] = _TIGHTER[op](merged[op], value)
            except TypeError:
                return None
        elif merged[op] != value:
            return None
    return merged


def build_filter(clauses: Iterable[Clause], *, trailing: Iterable[tuple[str, Any]] = ()) -> dict[str, Any]:
    """One MongoDB filter, ideally with field-level conditions only.

    Indexed conditions come first (most selective parameter types first), residuals after;
    conditions on one field are merged. Only what cannot be merged (or is an OR across fields)
    goes under a top-level ``$and``, which SecantusDB cannot serve from an index.
    """
    top: dict[str, Any] = {}
    conjuncts: list[dict[str, Any]] = []

    def add(field: str, cond: Any) -> None:
        if field.startswith("$"):
            conjuncts.append({field: cond})
            return
        if field not in top:
            top[field] = cond
            return
        merged = merge_conditions(top[field], cond)
        if merged is None:
            conjuncts.append({field: cond})
        else:
            top[field] = merged

    ordered = sorted(clauses, key=lambda c: c.rank)
    for clause in ordered:
        for field, cond in clause.indexed:
            add(field, cond)
    for clause in ordered:
        for residual in clause.residual:
            for field, cond in residual.items():
                add(field, cond)
    for field, cond in trailing:
        add(field, cond)
    if conjuncts:
        top["$and"] = conjuncts
    return top
