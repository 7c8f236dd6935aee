"""QueryTranslator: one search criterion (parameter, modifier, OR-ed values) -> a Clause.

Driven by the same registry definitions and the same index layout the indexer writes
(``fhir_server.search.fields``). One builder per parameter type, dispatched from a table.
Ordered types (date, number, quantity) and composites are in ``translate_ordered``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fhir_server.conformance.registry import ConformanceRegistry, SearchParamDef
from fhir_server.search import clauses as c
from fhir_server.search import fields as f
from fhir_server.search.clauses import Clause
from fhir_server.search.encoders import normalize_reference, uri_prefixes
from fhir_server.search.syntax import split_system, unescape
from fhir_server.search.text import MAX_PREFIX, MAX_VALUE, normalize


class ParamError(Exception):
    """A parameter, modifier, prefix or value we cannot honour (400 unless lenient)."""


@dataclass(frozen=True)
class TranslateEnv:
    registry: ConformanceRegistry
    resource_type: str
    base_url: str  # no trailing slash
    now: datetime


Builder = Callable[[SearchParamDef, str | None, list[str], TranslateEnv], Clause]


def missing_clause(param: SearchParamDef, values: list[str]) -> Clause:
    if len(values) != 1 or values[0] not in ("true", "false"):
        raise ParamError(":missing takes true or false")
    field = f.ID if param.code == "_id" else f.main_field(param.code)
    return Clause(residual=({field: {"$exists": values[0] == "false"}},))


# ----- string ------------------------------------------------------------------------------------------


def _string_one(field: str, modifier: str | None, value: str, tag: str = "") -> Clause:
    if modifier == "exact":
        return c.equals(field, f.TAG_EXACT + unescape(value), c.RANK_STRING)
    norm = normalize(unescape(value))
    if not norm:
        raise ParamError("an empty string value matches nothing")
    if modifier == "contains":
        # Scans the index entries (no anchor); documented as the one non-indexed string search.
        return Clause(residual=({field: {"$regex": re.escape(norm)}},), rank=c.RANK_OTHER)
    if len(norm) <= MAX_PREFIX:
        return c.equals(field, tag + norm, c.RANK_STRING)
    # Longer than the stored prefixes: the index narrows by the first MAX_PREFIX characters and the
    # few candidates are checked against their full values (kept in "@f" for long values only).
    anchored = {field + f.FULL: {"$regex": "^" + re.escape(tag + norm[:MAX_VALUE])}}
    return Clause(indexed=((field, tag + norm[:MAX_PREFIX]),), residual=(anchored,), rank=c.RANK_STRING)


def build_string(param: SearchParamDef, modifier: str | None, values: list[str], env: TranslateEnv) -> Clause:
    field = f.main_field(param.code)
    return c.any_of([_string_one(field, modifier, v) for v in values])


# ----- token -------------------------------------------------------------------------------------------


def _token_forms(value: str) -> str:
    system, code = split_system(value)
    if system is None:
        if not code:
            raise ParamError("an empty token matches nothing")
        return code
    if not system and not code:
        raise ParamError("'|' alone is not a token")
    return f"{system}|{code}"


def build_token(param: SearchParamDef, modifier: str | None, values: list[str], env: TranslateEnv) -> Clause:
    if param.code == "_id":
        if modifier not in (None, "not"):
            raise ParamError(f"modifier :{modifier} is not supported on _id")
        ids = [unescape(v) for v in values]
        if modifier == "not":
            return Clause(residual=({f.ID: {"$nin": ids}},))
        return Clause(indexed=((f.ID, ids[0] if len(ids) == 1 else {"$in": ids}),), rank=c.RANK_ID)
    field = f.main_field(param.code)
    rank = c.RANK_IDENTIFIER if param.code in ("identifier", "_id") else c.RANK_TOKEN
    if modifier is None:
        return c.any_of([c.equals(field, _token_forms(v), rank) for v in values])
    if modifier == "not":
        tokens = [_token_forms(v) for v in values]
        return Clause(residual=({field: {"$nin": tokens}},))
    if modifier == "text":
        return c.any_of([_string_one(field, None, v, f.TAG_TEXT) for v in values])
    if modifier == "of-type":
        out = []
        for value in values:
            parts = value.split("|")
            if len(parts) != 3 or not parts[1] or not parts[2]:
                raise ParamError(":of-type takes system|code|value")
            out.append(c.equals(field, f.TAG_OF_TYPE + unescape(value), c.RANK_IDENTIFIER))
        return c.any_of(out)
    raise ParamError(f"modifier :{modifier} is not supported for token parameters")


# ----- reference ---------------------------------------------------------------------------------------


def _local_form(value: str, env: TranslateEnv) -> str:
    """Query value -> stored form (our own absolute URLs and version suffixes dropped)."""
    stored = normalize_reference(value, env.base_url)
    return stored or value


def _reference_one(param: SearchParamDef, modifier: str | None, value: str, env: TranslateEnv) -> Clause:
    field = f.main_field(param.code)
    value = unescape(value)
    if not value:
        raise ParamError("an empty reference matches nothing")
    if modifier == "identifier":
        return c.equals(field, f.TAG_IDENTIFIER + _token_forms(value), c.RANK_IDENTIFIER)
    if modifier is not None:  # a type modifier: subject:Patient=123
        if "/" in value and "://" not in value:
            if value.split("/")[0] != modifier:
                raise ParamError(f"value {value!r} is not a {modifier} reference")
            return c.equals(field, _local_form(value, env), c.RANK_REFERENCE)
        return c.equals(field, f"{modifier}/{value}", c.RANK_REFERENCE)
    if "/" in value or ":" in value:
        return c.equals(field, _local_form(value, env), c.RANK_REFERENCE)
    targets = [t for t in param.targets if env.registry.is_resource_type(t)] or env.registry.resource_types()
    refs = [f"{t}/{value}" for t in targets]
    return Clause(indexed=((field, refs[0] if len(refs) == 1 else {"$in": refs}),), rank=c.RANK_REFERENCE)


def build_reference(
    param: SearchParamDef, modifier: str | None, values: list[str], env: TranslateEnv
) -> Clause:
    if modifier not in (None, "identifier"):
        if not env.registry.is_resource_type(modifier):
            raise ParamError(f"modifier :{modifier} is not supported for reference parameters")
        if param.targets and modifier not in param.targets and "Resource" not in param.targets:
            raise ParamError(f"{modifier} is not a target type of this parameter")
    return c.any_of([_reference_one(param, modifier, v, env) for v in values])


def references_in(param: SearchParamDef, refs: list[str]) -> Clause:
    """The clause a resolved chain becomes: the reference is one of these "Type/id"."""
    if not refs:
        return c.NEVER
    field = f.main_field(param.code)
    return Clause(indexed=((field, refs[0] if len(refs) == 1 else {"$in": refs}),), rank=c.RANK_REFERENCE)


# ----- uri ---------------------------------------------------------------------------------------------


def _uri_one(field: str, modifier: str | None, value: str) -> Clause:
    value = unescape(value)
    if not value:
        raise ParamError("an empty uri matches nothing")
    if modifier == "below":
        return c.equals(field, f.TAG_BELOW + value.rstrip("/"), c.RANK_URI)
    if modifier == "above":
        candidates = list(dict.fromkeys([*uri_prefixes(value.split("|", 1)[0]), value]))
        return Clause(indexed=((field, {"$in": candidates}),), rank=c.RANK_URI)
    return c.equals(field, value, c.RANK_URI)


def build_uri(param: SearchParamDef, modifier: str | None, values: list[str], env: TranslateEnv) -> Clause:
    if modifier not in (None, "below", "above"):
        raise ParamError(f"modifier :{modifier} is not supported for uri parameters")
    field = f.main_field(param.code)
    return c.any_of([_uri_one(field, modifier, v) for v in values])
