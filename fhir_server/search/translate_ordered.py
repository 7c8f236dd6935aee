"""Translation of ordered parameters (date, number, quantity, ``_lastUpdated``) and composites.

Date semantics follow the specification's range rules, with [lo, hi] the value's range and
[qlo, qhi] the range the query's precision implies:

    eq  value range inside the query range      (one equality on a calendar unit, see dates.py)
    ne  not eq
    gt  hi > qhi          lt  lo < qlo           sa  lo > qhi          eb  hi < qlo
    ge  gt or eq          le  lt or eq           ap  ranges overlap, widened by 10% of |now - q|

Single-bound conditions are exact on multi-valued fields (an array of highs has an element above
X exactly when one value's high is) and are served by the ``@lo``/``@hi`` indexes. Conditions on
both bounds of ONE value (``ge``/``le``'s containment branch, ``ap``, unit-qualified quantity
comparisons) add a residual ``$elemMatch`` on the ``@r`` records, checked only on the candidates
the indexed bound selected.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir_server.conformance.registry import SearchParamDef
from fhir_server.search import clauses as c
from fhir_server.search import dates, numbers
from fhir_server.search import fields as f
from fhir_server.search.clauses import Clause
from fhir_server.search.syntax import split_prefix, split_unescaped, unescape
from fhir_server.search.text import MAX_PREFIX, normalize
from fhir_server.search.translate import ParamError, TranslateEnv, _token_forms

_BOUND_OPS = {  # prefix -> (bound, operator) for single-bound comparisons
    "gt": ("h", "$gt"),
    "lt": ("l", "$lt"),
    "ge": ("h", "$gte"),
    "le": ("l", "$lte"),
    "sa": ("l", "$gt"),
    "eb": ("h", "$lt"),
}


def parse_date(text: str) -> dates.DateRange:
    # A "+" of a time zone often arrives decoded as a space.
    parsed = dates.parse_range(text.replace(" ", "+"))
    if parsed is None:
        raise ParamError(f"'{text}' is not a valid FHIR date")
    return parsed


def _widened(query: dates.DateRange, now: datetime) -> tuple[datetime, datetime]:
    delta = abs(now - query.low) / 10
    low = query.low - delta if query.low - dates.MIN_DATE > delta else dates.MIN_DATE
    high = query.high + delta if dates.MAX_DATE - query.high > delta else dates.MAX_DATE
    return low, high


# ----- date --------------------------------------------------------------------------------------------


def _date_one(code: str, value: str, env: TranslateEnv) -> Clause:
    prefix, text = split_prefix(value)
    query = parse_date(text)
    units, low, high = f.main_field(code), f.sub_field(code, f.LOW), f.sub_field(code, f.HIGH)
    unit = dates.unit_of(query)
    rank = c.RANK_DATE
    if prefix == "eq":
        return c.equals(units, unit, rank)
    if prefix == "ne":
        return Clause(residual=({units: {"$exists": True, "$ne": unit}},), rank=rank)
    records = f.sub_field(code, f.RESIDUAL)
    inside = {"l": {"$gte": query.low}, "h": {"$lte": query.high}}
    # "l" first: SecantusDB reads an $elemMatch whose first key is an operator as a value match.
    if prefix == "ge":
        either = {"l": {"$exists": True}, "$or": [{"h": {"$gt": query.high}}, inside]}
        return Clause(
            indexed=((high, {"$gte": query.low}),), residual=({records: {"$elemMatch": either}},), rank=rank
        )
    if prefix == "le":
        either = {"l": {"$exists": True}, "$or": [{"l": {"$lt": query.low}}, inside]}
        return Clause(
            indexed=((low, {"$lte": query.high}),), residual=({records: {"$elemMatch": either}},), rank=rank
        )
    if prefix == "ap":
        wide_low, wide_high = _widened(query, env.now)
        overlap = {"l": {"$lte": wide_high}, "h": {"$gte": wide_low}}
        return Clause(
            indexed=((high, {"$gte": wide_low}),), residual=({records: {"$elemMatch": overlap}},), rank=rank
        )
    bound, op = _BOUND_OPS[prefix]
    target = query.high if prefix in ("gt", "sa") else query.low
    return Clause(indexed=((high if bound == "h" else low, {op: target}),), rank=rank)


def build_date(param: SearchParamDef, modifier: str | None, values: list[str], env: TranslateEnv) -> Clause:
    if modifier is not None:
        raise ParamError(f"modifier :{modifier} is not supported for date parameters")
    if param.code == "_lastUpdated":
        return c.any_of([_last_updated_one(v, env) for v in values])
    return c.any_of([_date_one(param.code, v, env) for v in values])


def _last_updated_one(value: str, env: TranslateEnv) -> Clause:
    prefix, text = split_prefix(value)
    query = parse_date(text)
    lu = f.LAST_UPDATED
    conditions: dict[str, dict[str, Any]] = {
        "eq": {"$gte": query.low, "$lte": query.high},
        "gt": {"$gt": query.high},
        "sa": {"$gt": query.high},
        "lt": {"$lt": query.low},
        "eb": {"$lt": query.low},
        "ge": {"$gte": query.low},
        "le": {"$lte": query.high},
    }
    if prefix == "ne":
        return Clause(residual=({"$or": [{lu: {"$lt": query.low}}, {lu: {"$gt": query.high}}]},))
    if prefix == "ap":
        wide_low, wide_high = _widened(query, env.now)
        return Clause(indexed=((lu, {"$gte": wide_low, "$lte": wide_high}),), rank=c.RANK_DATE)
    return Clause(indexed=((lu, conditions[prefix]),), rank=c.RANK_DATE)


# ----- number and quantity ---------------------------------------------------------------------------


def _parse_amount(text: str, *, quantity: bool) -> tuple[Decimal, str | None]:
    parts = split_unescaped(text, "|") if quantity else [text]
    number = numbers.to_decimal(parts[0]) if parts[0] else None
    if number is None:
        raise ParamError(f"'{parts[0]}' is not a number")
    if len(parts) == 1:
        return number, None
    if len(parts) != 3:
        raise ParamError("a quantity is number, number|system|code or number||code")
    system, code = unescape(parts[1]), unescape(parts[2])
    if not code:
        if system:
            raise ParamError("a quantity unit needs a code")
        return number, None
    return number, f"{system}|{code}" if system else f"|{code}"


def _amount_one(code: str, value: str, *, quantity: bool) -> Clause:
    prefix, text = split_prefix(value)
    number, unit = _parse_amount(text, quantity=quantity)
    main, low, high = f.main_field(code), f.sub_field(code, f.LOW), f.sub_field(code, f.HIGH)
    residual_field = f.sub_field(code, f.RESIDUAL)
    rank = c.RANK_NUMBER
    tokens = numbers.query_tokens(number)
    if unit:
        tokens = [f"{t}#{unit}" for t in tokens]
    if prefix == "eq":
        return Clause(indexed=((main, {"$in": tokens}),), rank=rank)
    if prefix == "ne":
        return Clause(residual=({main: {"$exists": True, "$nin": tokens}},), rank=rank)
    unit_indexed: tuple[tuple[str, Any], ...] = ((main, f.TAG_UNIT + unit),) if unit else ()
    unit_match: dict[str, Any] = {"u": unit} if unit else {}
    if prefix == "ap":
        spread = abs(number) / 10
        wide_low, wide_high = float(number - spread), float(number + spread)
        overlap = {"l": {"$lte": wide_high}, "h": {"$gte": wide_low}, **unit_match}
        return Clause(
            indexed=((high, {"$gte": wide_low}), *unit_indexed),
            residual=({residual_field: {"$elemMatch": overlap}},),
            rank=rank,
        )
    bound, op = _BOUND_OPS[prefix]
    target = float(number)
    residual: tuple[dict[str, Any], ...] = ()
    if unit:
        residual = ({residual_field: {"$elemMatch": {bound: {op: target}, **unit_match}}},)
    return Clause(
        indexed=((high if bound == "h" else low, {op: target}), *unit_indexed), residual=residual, rank=rank
    )


def build_number(param: SearchParamDef, modifier: str | None, values: list[str], env: TranslateEnv) -> Clause:
    if modifier is not None:
        raise ParamError(f"modifier :{modifier} is not supported for {param.type} parameters")
    quantity = param.type == "quantity"
    return c.any_of([_amount_one(param.code, v, quantity=quantity) for v in values])


# ----- composite ---------------------------------------------------------------------------------------


def _component_condition(key: str, param_type: str, value: str, env: TranslateEnv) -> dict[str, Any]:
    """Condition on one component inside a composite residual record (``c1.e``, ``c1.h`` ...)."""
    if param_type == "token":
        return {f"{key}.e": _token_forms(value)}
    if param_type in ("reference", "uri"):
        return {f"{key}.e": unescape(value)}
    if param_type == "string":
        return {f"{key}.e": normalize(unescape(value))[:MAX_PREFIX]}
    prefix, text = split_prefix(value)
    if param_type == "date":
        query = parse_date(text)
        unit = dates.unit_of(query)
        lows, highs = (query.low, query.high)
        by_prefix: dict[str, dict[str, Any]] = {
            "eq": {f"{key}.e": unit},
            "ne": {f"{key}.e": {"$ne": unit}},
            "gt": {f"{key}.h": {"$gt": highs}},
            "sa": {f"{key}.l": {"$gt": highs}},
            "lt": {f"{key}.l": {"$lt": lows}},
            "eb": {f"{key}.h": {"$lt": lows}},
            "ge": {"$or": [{f"{key}.h": {"$gt": highs}}, {f"{key}.e": unit}]},
            "le": {"$or": [{f"{key}.l": {"$lt": lows}}, {f"{key}.e": unit}]},
        }
        if prefix == "ap":
            wide_low, wide_high = _widened(query, env.now)
            return {f"{key}.l": {"$lte": wide_high}, f"{key}.h": {"$gte": wide_low}}
        return by_prefix[prefix]
    if param_type in ("number", "quantity"):
        number, amount_unit = _parse_amount(text, quantity=param_type == "quantity")
        condition: dict[str, Any] = {f"{key}.u": amount_unit} if amount_unit else {}
        if prefix == "eq":
            condition[f"{key}.e"] = {"$in": numbers.query_tokens(number)}
        elif prefix == "ne":
            condition[f"{key}.e"] = {"$nin": numbers.query_tokens(number)}
        elif prefix == "ap":
            spread = abs(number) / 10
            condition[f"{key}.l"] = {"$lte": float(number + spread)}
            condition[f"{key}.h"] = {"$gte": float(number - spread)}
        else:
            bound, op = _BOUND_OPS[prefix]
            condition[f"{key}.{bound}"] = {op: float(number)}
        return condition
    raise ParamError(f"composite component of type {param_type} is not supported")


def _composite_one(param: SearchParamDef, types: list[str], value: str, env: TranslateEnv) -> Clause:
    parts = split_unescaped(value, "$")
    if len(parts) != len(types):
        raise ParamError(f"a value of {param.code} has {len(types)} parts separated by '$'")
    main = f.main_field(param.code)
    first = _token_forms(parts[0]) if types[0] == "token" else unescape(parts[0])
    if all(t in ("token", "reference", "uri") for t in types):
        rest = [
            _token_forms(p) if t == "token" else unescape(p)
            for p, t in zip(parts[1:], types[1:], strict=True)
        ]
        return c.equals(main, "$".join([first, *rest]), c.RANK_COMPOSITE)
    # One flat $elemMatch document (SecantusDB has no $and inside $elemMatch); component keys differ.
    match: dict[str, Any] = {"k": first}
    for position, (part, ptype) in enumerate(zip(parts[1:], types[1:], strict=True), start=1):
        condition = _component_condition(f"c{position}", ptype, part, env)
        if "$or" in condition and "$or" in match:
            raise ParamError("only one ge/le date component per composite value is supported")
        match.update(condition)
    record = {f.sub_field(param.code, f.RESIDUAL): {"$elemMatch": match}}
    return Clause(indexed=((main, first + "$"),), residual=(record,), rank=c.RANK_COMPOSITE)


def build_composite(
    param: SearchParamDef, modifier: str | None, values: list[str], env: TranslateEnv
) -> Clause:
    if modifier is not None:
        raise ParamError(f"modifier :{modifier} is not supported for composite parameters")
    types: list[str] = []
    for component in param.components:
        definition = env.registry.search_parameter_by_url(env.resource_type, component.definition)
        if definition is None:
            raise ParamError(f"composite {param.code} has an unknown component")
        types.append(definition.type)
    return c.any_of([_composite_one(param, types, v, env) for v in values])
