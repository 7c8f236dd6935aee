"""Keyset paging: page tokens and the "after this row" conditions.

A page is the next ``_count`` rows after an *anchor* row in the sort order, never an offset, so
rows inserted or deleted elsewhere cannot shift a page. With one sort key (the common case, and
``_id`` when none is given) the key's field holds "<value>\\x01<id>" strings: unique, so "after the
anchor" is a single-field range served by an index. Resources without a value for the key come
after all others (ordered by id). Several sort keys use a general ``$or`` keyset instead.
Multi-type searches merge per-type pages, breaking ties by type.

Every page after the first also only sees resources last updated before the search started (the
token carries that cut-off), so no page repeats or skips a resource that existed unchanged when
the search started; one updated since may leave the result, which the spec allows.

A token is compact base64url JSON: version, direction ("n" next, "p" previous), cut-off (epoch
ms), a short hash of the query it belongs to, the anchor's key values and, when the first page
counted them, the total and whether it was an estimate (so later pages repeat it instead of counting
again). It is opaque to clients and only ever compared against, never executed: decoding accepts
scalars only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from fhir_server.errors import BadRequest
from fhir_server.search.dates import as_utc

TYPE_KEY = "\x00type"  # pseudo sort field: the resource type, constant within one collection
_VERSION = 1


@dataclass(frozen=True)
class PageToken:
    direction: str  # "n": rows after the anchor; "p": rows before it
    cutoff: datetime
    query_hash: str
    anchor: tuple[Any, ...]
    total: int | None = None  # the search's Bundle.total, counted on its first page
    estimated: bool = False


def query_hash(parts: Sequence[tuple[str, str]], scope: str) -> str:
    digest = hashlib.sha256(orjson.dumps([scope, sorted(parts)])).digest()
    return base64.urlsafe_b64encode(digest[:6]).decode()


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return ["d", int(as_utc(value).timestamp() * 1000)]
    if isinstance(value, float) and not math.isfinite(value):
        return ["f", "inf" if value > 0 else "-inf"]
    return value


def _decode_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list) and len(value) == 2:
        tag, raw = value
        if tag == "d" and isinstance(raw, int):
            return datetime.fromtimestamp(raw / 1000, UTC)
        if tag == "f" and raw in ("inf", "-inf"):
            return float(raw)
    raise ValueError("bad token value")


def encode_token(token: PageToken) -> str:
    payload = [
        _VERSION,
        token.direction,
        int(token.cutoff.timestamp() * 1000),
        token.query_hash,
        [_encode_value(v) for v in token.anchor],
    ]
    if token.total is not None:
        payload += [token.total, token.estimated]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(text: str, *, expected_hash: str, key_count: int) -> PageToken:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        version, direction, cutoff, hashed, anchor, *counted = orjson.loads(raw)
        if version != _VERSION or direction not in ("n", "p") or not isinstance(cutoff, int):
            raise ValueError("bad token")
        values = tuple(_decode_value(v) for v in anchor)
        total, estimated = _decode_total(counted)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest("_page: not a valid page token", ("_page",)) from None
    if hashed != expected_hash or len(values) != key_count:
        raise BadRequest("_page: the token belongs to a different search", ("_page",))
    return PageToken(direction, datetime.fromtimestamp(cutoff / 1000, UTC), hashed, values, total, estimated)


def _decode_total(counted: list[Any]) -> tuple[int | None, bool]:
    if not counted:
        return None, False
    if len(counted) != 2:
        raise ValueError("bad token")
    total, estimated = counted
    if type(total) is not int or total < 0 or not isinstance(estimated, bool):
        raise ValueError("bad token")
    return total, estimated


# ----- sort orders --------------------------------------------------------------------------------------

Condition = list[tuple[str, Any]]  # field-level conditions (a "$or" field for general keysets)
Row = tuple[str, dict[str, Any]]  # (resource type, document)


@dataclass(frozen=True)
class Phase:
    """One query per searched type: rows of this phase after (or before) the anchor, in order."""

    conditions: dict[str, Condition | None]  # per type; None: no row of that type qualifies
    sort: list[tuple[str, int]]


def _field_value(doc: dict[str, Any], field: str) -> Any:
    value: Any = doc
    for part in field.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _cmp(left: Any, right: Any) -> int:
    return 0 if left == right else (-1 if left < right else 1)


class SimpleOrder:
    """One sort key (``_id`` when none is given): the common case, paged without any ``$or``.

    Order: resources with a value first, by value (in the requested direction), then type, then
    id; resources without a value last, by type then id. "After the anchor" is split into
    consecutive phases that are each plain field conditions an index serves: the anchor's ties
    (same value, later type/id), the values beyond it, then the resources without a value.
    """

    def __init__(self, field: str, direction: int, types: list[str]) -> None:
        self.field = field
        self.direction = direction
        self.types = types
        self.has_missing = field != "_id"

    def key(self, row: Row) -> tuple[Any, ...]:
        resource_type, doc = row
        value = _field_value(doc, self.field)
        return (1 if value is None else 0, value, resource_type, doc["_id"])

    def compare(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
        if a[0] != b[0]:
            return _cmp(a[0], b[0])
        value = 0 if a[0] == 1 else _cmp(as_comparable(a[1]), as_comparable(b[1])) * self.direction
        return value or _cmp(a[2], b[2]) or _cmp(a[3], b[3])

    def phases(self, anchor: tuple[Any, ...] | None, backwards: bool) -> list[Phase]:
        """The queries that return the rows after (or, backwards, before) the anchor, in order."""
        step = -1 if backwards else 1
        value_sort = [(self.field, self.direction * step)]
        if self.field != "_id":
            value_sort.append(("_id", step))
        id_sort = [("_id", step)]
        has_value: Condition = [(self.field, {"$exists": True})] if self.has_missing else []
        no_value: Condition = [(self.field, {"$exists": False})]
        if anchor is None:
            phases = [Phase(self._same(has_value), value_sort)]
            if self.has_missing:
                phases.append(Phase(self._same(no_value), id_sort))
            return phases
        in_missing, value, anchor_type, anchor_id = anchor
        if in_missing:
            rest = Phase(self._ties(no_value, anchor_type, anchor_id, backwards), id_sort)
            return [rest, Phase(self._same(has_value), value_sort)] if backwards else [rest]
        ties = Phase(self._ties([(self.field, value)], anchor_type, anchor_id, backwards), id_sort)
        ahead = self.direction * step == 1
        beyond = Phase(self._same([(self.field, {"$gt" if ahead else "$lt": value})]), value_sort)
        if backwards or not self.has_missing:
            return [ties, beyond]
        return [ties, beyond, Phase(self._same(no_value), id_sort)]

    def _same(self, condition: Condition) -> dict[str, Condition | None]:
        return dict.fromkeys(self.types, condition)

    def _ties(
        self, condition: Condition, anchor_type: str, anchor_id: str, backwards: bool
    ) -> dict[str, Condition | None]:
        """Rows equal to the anchor on the sort value: later (earlier) types whole, its own type
        beyond its id."""
        out: dict[str, Condition | None] = {}
        for t in self.types:
            if t == anchor_type:
                out[t] = [*condition, ("_id", {"$lt" if backwards else "$gt": anchor_id})]
            elif (t < anchor_type) == backwards:
                out[t] = condition
            else:
                out[t] = None
        return out


def as_comparable(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


class GeneralOrder:
    """Several sort keys: a keyset condition across fields (``$or``), MongoDB's null order."""

    def __init__(self, sort: list[tuple[str, int]], types: list[str]) -> None:
        self.sort = [*sort, (TYPE_KEY, 1), ("_id", 1)] if len(types) > 1 else [*sort, ("_id", 1)]
        self.types = types

    def key(self, row: Row) -> tuple[Any, ...]:
        resource_type, doc = row
        return tuple(resource_type if f == TYPE_KEY else _field_value(doc, f) for f, _ in self.sort)

    def compare(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
        for (_, direction), left, right in zip(self.sort, a, b, strict=True):
            if left == right:
                continue
            if left is None or right is None:
                return (-1 if left is None else 1) * direction
            return _cmp(as_comparable(left), as_comparable(right)) * direction
        return 0

    def phases(self, anchor: tuple[Any, ...] | None, backwards: bool) -> list[Phase]:
        sort = reverse(self.sort) if backwards else self.sort
        conditions: dict[str, Condition | None] = {}
        for t in self.types:
            if anchor is None:
                conditions[t] = []
                continue
            keyset = keyset_condition(sort, anchor, t)
            conditions[t] = None if keyset is False else [] if keyset is True else [("$or", [keyset])]
        return [Phase(conditions, [(f, d) for f, d in sort if f != TYPE_KEY])]


Order = SimpleOrder | GeneralOrder


def keyset_condition(sort: SortSpec, anchor: Sequence[Any], resource_type: str) -> dict[str, Any] | bool:
    """Filter for rows after ``anchor`` in ``sort`` order; True: all rows, False: none."""
    disjuncts: list[dict[str, Any]] = []
    for i, (field, direction) in enumerate(sort):
        conjuncts: list[dict[str, Any]] = []
        possible = True
        for j in range(i):
            same = _same(sort[j][0], anchor[j], resource_type)
            if same is False:
                possible = False
                break
            if same is not True:
                conjuncts.append(same)
        if not possible:
            continue
        after = _after(field, direction, anchor[i], resource_type)
        if after is False:
            continue
        if after is not True:
            conjuncts.append(after)
        if not conjuncts:
            return True
        disjuncts.append(conjuncts[0] if len(conjuncts) == 1 else {"$and": conjuncts})
    if not disjuncts:
        return False
    return disjuncts[0] if len(disjuncts) == 1 else {"$or": disjuncts}


SortSpec = list[tuple[str, int]]  # (field, 1 | -1)


def _after(field: str, direction: int, anchor: Any, constant: Any) -> dict[str, Any] | bool:
    """Rows strictly after the anchor on one key (MongoDB sorts null/missing lowest)."""
    if field == TYPE_KEY:
        return bool(constant > anchor) if direction == 1 else bool(constant < anchor)
    if direction == 1:
        return {field: {"$ne": None}} if anchor is None else {field: {"$gt": anchor}}
    if anchor is None:
        return False
    return {"$or": [{field: {"$lt": anchor}}, {field: None}]}


def _same(field: str, anchor: Any, constant: Any) -> dict[str, Any] | bool:
    if field == TYPE_KEY:
        return bool(constant == anchor)
    return {field: anchor}


def reverse(sort: SortSpec) -> SortSpec:
    return [(field, -direction) for field, direction in sort]
