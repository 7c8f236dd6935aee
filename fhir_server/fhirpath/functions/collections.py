"""Existence, filtering, subsetting and combining functions (FHIRPath sections 5.1-5.4)."""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.equality import compare
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.functions.base import (
    EXPRESSION,
    TYPE,
    VALUE,
    Descending,
    Fn,
    FunctionDef,
    TypeSpecifier,
    integer_argument,
    run_per_item,
    to_boolean,
)
from fhir_server.fhirpath.navigation import children, descendants
from fhir_server.fhirpath.nodes import Node, is_exact_type, is_type, system_value, type_of
from fhir_server.fhirpath.operators import contains_item, union


def _empty(env: Env, focus: list[Any]) -> list[Any]:
    return [not focus]


def _exists(env: Env, focus: list[Any], criteria: Fn | None = None) -> list[Any]:
    if criteria is None:
        return [bool(focus)]
    return [any(to_boolean(result, "exists() criteria") for _, result in run_per_item(env, focus, criteria))]


def _all(env: Env, focus: list[Any], criteria: Fn) -> list[Any]:
    return [all(to_boolean(result, "all() criteria") for _, result in run_per_item(env, focus, criteria))]


def _booleans(focus: list[Any], function: str) -> list[bool]:
    values = [system_value(item) for item in focus]
    if any(not isinstance(value, bool) for value in values):
        raise FhirPathError("execution", f"{function}() needs booleans")
    return values


def _all_true(env: Env, focus: list[Any]) -> list[Any]:
    return [all(_booleans(focus, "allTrue"))]


def _any_true(env: Env, focus: list[Any]) -> list[Any]:
    return [any(_booleans(focus, "anyTrue"))]


def _all_false(env: Env, focus: list[Any]) -> list[Any]:
    return [not any(_booleans(focus, "allFalse"))]


def _any_false(env: Env, focus: list[Any]) -> list[Any]:
    return [not all(_booleans(focus, "anyFalse"))]


def _subset_of(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
    return [all(contains_item(other, item) for item in focus)]


def _superset_of(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
    return [all(contains_item(focus, item) for item in other)]


def _count(env: Env, focus: list[Any]) -> list[Any]:
    return [len(focus)]


def distinct_items(focus: list[Any]) -> list[Any]:
    return union(focus, [])


def _distinct(env: Env, focus: list[Any]) -> list[Any]:
    return distinct_items(focus)


def _is_distinct(env: Env, focus: list[Any]) -> list[Any]:
    return [len(distinct_items(focus)) == len(focus)]


def _where(env: Env, focus: list[Any], criteria: Fn) -> list[Any]:
    return [
        item for item, result in run_per_item(env, focus, criteria) if to_boolean(result, "where() criteria")
    ]


def _select(env: Env, focus: list[Any], projection: Fn) -> list[Any]:
    out: list[Any] = []
    for _, result in run_per_item(env, focus, projection):
        out.extend(result)
    return out


def _repeat(env: Env, focus: list[Any], projection: Fn) -> list[Any]:
    out: list[Any] = []
    level = focus
    while level:
        found: list[Any] = []
        for _, result in run_per_item(env, level, projection):
            for item in result:
                if not contains_item(out, item):
                    out.append(item)
                    found.append(item)
        level = found
    return out


def _of_type(env: Env, focus: list[Any], specifier: TypeSpecifier) -> list[Any]:
    return [item for item in focus if is_exact_type(item, specifier.namespace, specifier.name, env.model)]


def _as(env: Env, focus: list[Any], specifier: TypeSpecifier) -> list[Any]:
    if len(focus) > 1:
        raise FhirPathError("execution", "as() on more than one item")
    return _of_type(env, focus, specifier)


def _is(env: Env, focus: list[Any], specifier: TypeSpecifier) -> list[Any]:
    if not focus:
        return []
    if len(focus) > 1:
        raise FhirPathError("execution", "is() on more than one item")
    return [is_type(focus[0], specifier.namespace, specifier.name, env.model)]


def _type(env: Env, focus: list[Any]) -> list[Any]:
    """TypeInfo items: namespace and name readable with ``.namespace``/``.name``."""
    out: list[Any] = []
    for item in focus:
        namespace, name = type_of(item)
        out.append(Node({"namespace": namespace, "name": name}, "__TypeInfo"))
    return out


def _single(env: Env, focus: list[Any]) -> list[Any]:
    if len(focus) > 1:
        raise FhirPathError("execution", "single() on more than one item")
    return focus


def _first(env: Env, focus: list[Any]) -> list[Any]:
    return focus[:1]


def _last(env: Env, focus: list[Any]) -> list[Any]:
    return focus[-1:]


def _tail(env: Env, focus: list[Any]) -> list[Any]:
    return focus[1:]


def _skip(env: Env, focus: list[Any], count: list[Any]) -> list[Any]:
    number = integer_argument(count, "skip() count")
    if number is None:
        return []
    return focus[max(number, 0) :]


def _take(env: Env, focus: list[Any], count: list[Any]) -> list[Any]:
    number = integer_argument(count, "take() count")
    if number is None or number <= 0:
        return []
    return focus[:number]


def _intersect(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in focus:
        if contains_item(other, item) and not contains_item(out, item):
            out.append(item)
    return out


def _exclude(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
    return [item for item in focus if not contains_item(other, item)]


def _union(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
    return union(focus, other)


def _combine(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
    return [*focus, *other]


def _iif(
    env: Env, focus: list[Any], criterion: Fn, true_result: Fn, otherwise: Fn | None = None
) -> list[Any]:
    if len(focus) > 1:
        raise FhirPathError("execution", "iif() on more than one item")
    saved = env.this
    this = focus  # the criterion and results see the input, even an empty one (ctm-1 relies on it)
    env.this = this
    try:
        condition = criterion(env, this)
        if condition and not isinstance(system_value(condition[0]), bool):
            raise FhirPathError("semantic", "iif() criterion is not a boolean")
        chosen = true_result if to_boolean(condition, "iif() criterion") else otherwise
        return chosen(env, this) if chosen is not None else []
    finally:
        env.this = saved


def _not(env: Env, focus: list[Any]) -> list[Any]:
    value = to_boolean(focus, "the input of not()")
    return [] if value is None else [not value]


def _children(env: Env, focus: list[Any]) -> list[Any]:
    return children(env.model, focus)


def _descendants(env: Env, focus: list[Any]) -> list[Any]:
    return descendants(env.model, focus)


def _trace(env: Env, focus: list[Any], name: list[Any], projection: Fn | None = None) -> list[Any]:
    return focus  # tracing output is not wanted on a server; the input passes through


def _aggregate(env: Env, focus: list[Any], aggregator: Fn, init: list[Any] | None = None) -> list[Any]:
    total = init or []
    saved = (env.this, env.index, env.total)
    try:
        for index, item in enumerate(focus):
            env.this, env.index, env.total = [item], index, total
            total = aggregator(env, [item])
    finally:
        env.this, env.index, env.total = saved
    return total


def _sort(env: Env, focus: list[Any], *keys: Fn | Descending) -> list[Any]:
    directions = [-1 if isinstance(key, Descending) else 1 for key in keys] or [1]
    functions = [key.key if isinstance(key, Descending) else key for key in keys]

    def key_values(item: Any) -> list[Any]:
        saved = env.this
        env.this = [item]
        try:
            return [key(env, [item]) for key in functions] if functions else [[item]]
        finally:
            env.this = saved

    decorated = [(item, key_values(item)) for item in focus]

    def order(a: tuple[Any, list[Any]], b: tuple[Any, list[Any]]) -> int:
        for direction, left, right in zip(directions, a[1], b[1], strict=True):
            if not left or not right:
                if left or right:
                    return -1 if not left else 1
                continue
            result = compare(left[0], right[0]) or 0
            if result:
                return result * direction
        return 0

    return [item for item, _ in sorted(decorated, key=cmp_to_key(order))]


FUNCTIONS: dict[str, FunctionDef] = {
    "empty": FunctionDef(_empty),
    "exists": FunctionDef(_exists, (EXPRESSION,), required=0),
    "all": FunctionDef(_all, (EXPRESSION,)),
    "allTrue": FunctionDef(_all_true),
    "anyTrue": FunctionDef(_any_true),
    "allFalse": FunctionDef(_all_false),
    "anyFalse": FunctionDef(_any_false),
    "subsetOf": FunctionDef(_subset_of, (VALUE,)),
    "supersetOf": FunctionDef(_superset_of, (VALUE,)),
    "count": FunctionDef(_count),
    "distinct": FunctionDef(_distinct, result="focus"),
    "isDistinct": FunctionDef(_is_distinct),
    "where": FunctionDef(_where, (EXPRESSION,), result="focus"),
    "select": FunctionDef(_select, (EXPRESSION,)),
    "repeat": FunctionDef(_repeat, (EXPRESSION,)),
    "ofType": FunctionDef(_of_type, (TYPE,), result="type"),
    "as": FunctionDef(_as, (TYPE,), result="type"),
    "is": FunctionDef(_is, (TYPE,)),
    "type": FunctionDef(_type),
    "single": FunctionDef(_single, result="focus"),
    "first": FunctionDef(_first, result="focus"),
    "last": FunctionDef(_last, result="focus"),
    "tail": FunctionDef(_tail, result="focus"),
    "skip": FunctionDef(_skip, (VALUE,), result="focus"),
    "take": FunctionDef(_take, (VALUE,), result="focus"),
    "intersect": FunctionDef(_intersect, (VALUE,), result="focus"),
    "exclude": FunctionDef(_exclude, (VALUE,), result="focus"),
    "union": FunctionDef(_union, (VALUE,)),
    "combine": FunctionDef(_combine, (VALUE,)),
    "iif": FunctionDef(_iif, (EXPRESSION, EXPRESSION, EXPRESSION), required=2),
    "not": FunctionDef(_not),
    "children": FunctionDef(_children),
    "descendants": FunctionDef(_descendants),
    "trace": FunctionDef(_trace, (VALUE, EXPRESSION), required=1, result="focus"),
    "aggregate": FunctionDef(_aggregate, (EXPRESSION, VALUE), required=1),
    "sort": FunctionDef(_sort, (EXPRESSION,) * 8, required=0, result="focus"),
}
