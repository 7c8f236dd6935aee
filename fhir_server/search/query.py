"""SearchQuery: the raw ``(name, value)`` pairs of a search, parsed, validated and translated.

Strict by default: an unknown or malformed parameter, modifier, prefix or value raises BadRequest
naming it. With ``lenient`` (``Prefer: handling=lenient``) the parameter is dropped and reported
as a warning issue. Plain criteria are translated to clauses here; chained and ``_has`` criteria
keep their nested criteria, resolved later against the database (``fhir_server.search.chains``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fhir_server.conformance.registry import ConformanceRegistry, SearchParamDef
from fhir_server.errors import BadRequest, Issue
from fhir_server.search import fields as f
from fhir_server.search.clauses import Clause
from fhir_server.search.syntax import or_values
from fhir_server.search.translate import (
    Builder,
    ParamError,
    TranslateEnv,
    build_reference,
    build_string,
    build_token,
    build_uri,
    missing_clause,
)
from fhir_server.search.translate_ordered import build_composite, build_date, build_number

BUILDERS: dict[str, Builder] = {
    "string": build_string,
    "token": build_token,
    "reference": build_reference,
    "uri": build_uri,
    "date": build_date,
    "number": build_number,
    "quantity": build_number,
    "composite": build_composite,
}
SORTABLE = frozenset({"string", "token", "reference", "uri", "date", "number", "quantity"})
PAGE_PARAM = "_page"
PASS_THROUGH = frozenset({"_format", "_pretty"})  # applied by the HTTP layer; kept in links
UNSUPPORTED = frozenset({"_text", "_content", "_list", "_query", "_filter", "_contained", "_containedType"})
SUMMARY_VALUES = frozenset({"true", "false", "text", "data", "count"})
TOTAL_VALUES = frozenset({"none", "estimate", "accurate"})
# Aidbox's ``_totalMethod`` (fhirpy's ``count()`` sends ``_totalMethod=count``), as the standard ``_total``.
TOTAL_METHODS = {"count": "accurate", "estimate": "estimate", "none": "none"}
MAX_CHAIN_DEPTH = 4


@dataclass
class Criterion:
    """One AND-ed search criterion on one resource type."""

    name: str
    value: str
    clause: Clause | None = None  # plain criterion: already translated
    via: SearchParamDef | None = None  # chain: reference param here; _has: reference param on has_type
    chained: dict[str, Criterion] = field(default_factory=dict)  # chain: target type -> criterion
    has_type: str | None = None  # _has: the referring type
    has: Criterion | None = None  # _has: criterion on the referring type


@dataclass(frozen=True)
class SortKey:
    code: str
    descending: bool

    @property
    def field(self) -> str:
        if self.code == "_id":
            return f.ID
        if self.code == "_lastUpdated":
            return f.LAST_UPDATED
        return f.sub_field(self.code, f.SORT_DESC if self.descending else f.SORT_ASC)


@dataclass(frozen=True)
class IncludeSpec:
    source_type: str  # "*" for any
    param: str | None  # None: every reference parameter
    target: str | None
    iterate: bool


@dataclass
class SearchQuery:
    resource_types: list[str]
    criteria: dict[str, list[Criterion]]  # per searched type
    sort: list[SortKey] = field(default_factory=list)
    count: int = 20
    summary: str | None = None
    elements: list[str] | None = None
    total: str | None = None
    includes: list[IncludeSpec] = field(default_factory=list)
    revincludes: list[IncludeSpec] = field(default_factory=list)
    page: str | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


@dataclass
class QueryParser:
    registry: ConformanceRegistry
    base_url: str
    now: datetime
    default_count: int
    max_count: int
    lenient: bool = False

    def parse(
        self,
        *,
        resource_types: list[str],
        params: list[tuple[str, str]],
        system: bool = False,
        allow_control: bool = True,
    ) -> SearchQuery:
        query = SearchQuery(resource_types=list(resource_types), criteria={t: [] for t in resource_types})
        query.count = self.default_count
        # `_type` decides which types the other criteria are parsed for: handle it first.
        ordered = sorted(params, key=lambda p: p[0] != "_type")
        for name, value in ordered:
            try:
                self._one(query, name, value, system=system, allow_control=allow_control)
            except ParamError as exc:
                self._problem(query, name, value, str(exc))
        return query

    def criteria_for(self, resource_type: str, params: list[tuple[str, str]]) -> list[Criterion]:
        """Strict criteria of one type (access constraints, find_ids): no control parameters."""
        out = []
        for name, value in params:
            try:
                out.append(self._criterion(resource_type, name, value, depth=0))
            except ParamError as exc:
                raise BadRequest(f"search parameter '{name}': {exc}", (name,)) from None
        return out

    # ----- dispatch --------------------------------------------------------------------------------

    def _problem(self, query: SearchQuery, name: str, value: str, message: str) -> None:
        text = f"search parameter '{name}': {message}"
        if not self.lenient:
            raise BadRequest(text, (name,))
        query.issues.append(Issue("invalid", f"{text} (ignored)", "warning", (name,)))

    def _one(self, query: SearchQuery, name: str, value: str, *, system: bool, allow_control: bool) -> None:
        if name == PAGE_PARAM:
            query.page = value
            return
        if name in PASS_THROUGH:
            query.applied.append((name, value))
            return
        base = name.split(":", 1)[0]
        if base.startswith("_") and base != "_has" and not self._is_resource_param(base, query):
            if not allow_control:
                raise ParamError("control parameters are not allowed here")
            self._control(query, name, value, system=system)
            query.applied.append((name, value))
            return
        for resource_type in query.resource_types or ["Resource"]:  # validated even with no types
            criterion = self._criterion(resource_type, name, value, depth=0)
            if resource_type in query.criteria:
                query.criteria[resource_type].append(criterion)
        query.applied.append((name, value))

    def _is_resource_param(self, code: str, query: SearchQuery) -> bool:
        if code in UNSUPPORTED or code == "_type":
            return False
        types = query.resource_types or ["Resource"]
        return self.registry.search_parameter(types[0], code) is not None

    def _control(self, query: SearchQuery, name: str, value: str, *, system: bool) -> None:
        base, _, modifier = name.partition(":")
        if base in UNSUPPORTED:
            raise ParamError("this parameter is not supported")
        if base in ("_include", "_revinclude"):
            if modifier not in ("", "iterate", "recurse"):
                raise ParamError(f"modifier :{modifier} is not supported")
            spec = self._include(query, value, iterate=bool(modifier), reverse=base == "_revinclude")
            (query.revincludes if base == "_revinclude" else query.includes).append(spec)
            return
        if modifier:
            raise ParamError(f"modifier :{modifier} is not supported")
        handler = _CONTROL.get(base)
        if handler is None or (base == "_type" and not system):
            raise ParamError("unknown parameter")
        handler(self, query, value)

    # ----- control parameters ----------------------------------------------------------------------

    def _count(self, query: SearchQuery, value: str) -> None:
        if not (value.isascii() and value.isdigit()):
            raise ParamError("_count takes a non-negative integer")
        query.count = min(int(value), self.max_count)

    def _sort(self, query: SearchQuery, value: str) -> None:
        keys: list[SortKey] = []
        for item in value.split(","):
            descending = item.startswith("-")
            code = item[1:] if descending else item
            for resource_type in query.resource_types or ["Resource"]:
                param = self.registry.search_parameter(resource_type, code)
                if param is None or (param.type not in SORTABLE and code != "_id"):
                    raise ParamError(f"cannot sort by '{code}'")
            keys.append(SortKey(code, descending))
        query.sort = keys

    def _summary(self, query: SearchQuery, value: str) -> None:
        if value not in SUMMARY_VALUES:
            raise ParamError("_summary takes true, false, text, data or count")
        query.summary = value

    def _elements(self, query: SearchQuery, value: str) -> None:
        from fhir_server.search.shaping import parse_elements

        try:
            query.elements = parse_elements(value)
        except BadRequest as exc:
            raise ParamError(exc.diagnostics) from None

    def _total(self, query: SearchQuery, value: str) -> None:
        if value not in TOTAL_VALUES:
            raise ParamError("_total takes none, estimate or accurate")
        self._set_total(query, value)

    def _total_method(self, query: SearchQuery, value: str) -> None:
        total = TOTAL_METHODS.get(value)
        if total is None:
            raise ParamError(
                "_totalMethod takes count, estimate or none; the standard parameter is "
                "_total=accurate|estimate|none"
            )
        self._set_total(query, total)

    def _set_total(self, query: SearchQuery, value: str) -> None:
        if query.total is not None and query.total != value:
            raise ParamError(f"the total is asked for twice, as {query.total} and as {value}")
        query.total = value

    def _types(self, query: SearchQuery, value: str) -> None:
        types = [t for t in value.split(",") if t]
        unknown = [t for t in types if not self.registry.is_resource_type(t)]
        if unknown or not types:
            raise ParamError(f"unknown resource type(s): {', '.join(unknown) or '(none)'}")
        query.resource_types = list(dict.fromkeys(types))
        query.criteria = {t: query.criteria.get(t, []) for t in query.resource_types}

    def _include(self, query: SearchQuery, value: str, *, iterate: bool, reverse: bool) -> IncludeSpec:
        if value == "*":
            return IncludeSpec("*", None, None, iterate)
        parts = value.split(":")
        if len(parts) not in (2, 3):
            raise ParamError("takes Type:parameter[:targetType]")
        source, code = parts[0], parts[1]
        target = parts[2] if len(parts) == 3 else None
        if not self.registry.is_resource_type(source):
            raise ParamError(f"unknown resource type '{source}'")
        if target is not None and not self.registry.is_resource_type(target):
            raise ParamError(f"unknown resource type '{target}'")
        if code == "*":
            return IncludeSpec(source, None, target, iterate)
        param = self.registry.search_parameter(source, code)
        if param is None or param.type != "reference":
            raise ParamError(f"'{code}' is not a reference parameter of {source}")
        return IncludeSpec(source, code, target, iterate)

    # ----- criteria --------------------------------------------------------------------------------

    def _criterion(self, resource_type: str, name: str, value: str, *, depth: int) -> Criterion:
        if depth > MAX_CHAIN_DEPTH:
            raise ParamError(f"chains are limited to {MAX_CHAIN_DEPTH} links")
        if name.startswith("_has:"):
            return self._has(resource_type, name, value, depth=depth)
        head, dot, rest = name.partition(".")
        code, _, modifier = head.partition(":")
        param = self.registry.search_parameter(resource_type, code)
        if param is None:
            raise ParamError(f"unknown parameter for {resource_type}")
        if dot:
            return self._chain(resource_type, name, value, param, modifier or None, rest, depth=depth)
        if param.type == "special" or (not param.searchable and code not in ("_id", "_lastUpdated")):
            raise ParamError("this parameter is not supported")
        type_modifier = param.type == "reference" and self.registry.is_resource_type(modifier)
        if modifier and modifier not in param.modifiers and not type_modifier:
            raise ParamError(f"modifier :{modifier} is not supported for {param.type} parameters")
        if modifier == "missing":
            return Criterion(name, value, clause=missing_clause(param, [value]))
        builder = BUILDERS.get(param.type)
        if builder is None:
            raise ParamError(f"parameters of type {param.type} are not supported")
        values = or_values(value)
        if not value or any(v == "" for v in values):
            raise ParamError("empty value")
        env = TranslateEnv(self.registry, resource_type, self.base_url, self.now)
        return Criterion(name, value, clause=builder(param, modifier or None, values, env))

    def _chain(
        self,
        resource_type: str,
        name: str,
        value: str,
        param: SearchParamDef,
        type_modifier: str | None,
        rest: str,
        *,
        depth: int,
    ) -> Criterion:
        if param.type != "reference":
            raise ParamError("only reference parameters can be chained")
        if type_modifier is not None:
            if not self.registry.is_resource_type(type_modifier):
                raise ParamError(f"unknown resource type '{type_modifier}'")
            targets = [type_modifier]
        else:
            targets = [t for t in param.targets if self.registry.is_resource_type(t)]
        chained: dict[str, Criterion] = {}
        first_error: ParamError | None = None
        for target in targets:
            try:
                chained[target] = self._criterion(target, rest, value, depth=depth + 1)
            except ParamError as exc:
                first_error = first_error or exc
        if not chained:
            raise first_error or ParamError("the chain has no target type")
        return Criterion(name, value, via=param, chained=chained)

    def _has(self, resource_type: str, name: str, value: str, *, depth: int) -> Criterion:
        parts = name.split(":", 3)
        if len(parts) != 4 or not parts[3]:
            raise ParamError("_has takes _has:Type:reference:parameter")
        _, has_type, ref_code, rest = parts
        if not self.registry.is_resource_type(has_type):
            raise ParamError(f"unknown resource type '{has_type}'")
        ref = self.registry.search_parameter(has_type, ref_code)
        if ref is None or ref.type != "reference":
            raise ParamError(f"'{ref_code}' is not a reference parameter of {has_type}")
        if ref.targets and resource_type not in ref.targets and "Resource" not in ref.targets:
            raise ParamError(f"{has_type}.{ref_code} cannot reference {resource_type}")
        inner = self._criterion(has_type, rest, value, depth=depth + 1)
        return Criterion(name, value, via=ref, has_type=has_type, has=inner)


_CONTROL = {
    "_count": QueryParser._count,
    "_sort": QueryParser._sort,
    "_summary": QueryParser._summary,
    "_elements": QueryParser._elements,
    "_total": QueryParser._total,
    "_totalMethod": QueryParser._total_method,
    "_type": QueryParser._types,
}
