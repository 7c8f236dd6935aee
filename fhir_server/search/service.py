"""SearchService: type, system and compartment search, and ``find_ids`` for conditional writes.

The flow of one search: parse and translate the parameters (``query``), resolve chains and
``_has`` by bounded sub-queries (``resolver``), AND the caller's access constraint into every
query, fetch one keyset page per searched type (``paging``), add ``_include``/``_revinclude``
(``includes``), shape with ``_summary``/``_elements`` (``shaping``) and build the Bundle.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.access import AccessGate
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Issue
from fhir_server.search import bundle as b
from fhir_server.search import clauses as c
from fhir_server.search import fields as f
from fhir_server.search import paging as p
from fhir_server.search import totals
from fhir_server.search.clauses import Clause, build_filter
from fhir_server.search.export import Selection, check_filters, slice_of
from fhir_server.search.includes import IncludeLoader, Row
from fhir_server.search.query import PAGE_PARAM, QueryParser, SearchQuery
from fhir_server.search.resolver import NOT_DELETED, Resolver
from fhir_server.search.shaping import shape_resource
from fhir_server.settings import Settings
from fhir_server.store.documents import resource_collection_name

logger = logging.getLogger(__name__)

Session = AsyncClientSession
_NOT_IN_HASH = frozenset({"_count", "_format", "_pretty"})


class _Scope:
    """Which types a search covers and the URL its links start from."""

    def __init__(self, types: list[str], base_path: str, system: bool, compartment: str | None) -> None:
        self.types = types
        self.base_path = base_path
        self.system = system
        self.compartment = compartment


class SearchService:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], registry: ConformanceRegistry, settings: Settings
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")

    def parser(self, *, now: datetime, lenient: bool = False) -> QueryParser:
        return QueryParser(
            registry=self.registry,
            base_url=self.base_url,
            now=now,
            default_count=self.settings.default_page_size,
            max_count=self.settings.max_page_size,
            lenient=lenient,
        )

    # ----- conditional writes ----------------------------------------------------------------------

    async def find_ids(
        self,
        *,
        resource_type: str,
        params: list[tuple[str, str]],
        limit: int,
        session: Session | None = None,
        ctx: RequestContext | None = None,
        gate: AccessGate | None = None,
    ) -> list[str]:
        """Ids of current resources matching the criteria (strict).

        With ``ctx`` and ``gate``, only what that caller could find by searching: its access
        constraint is AND-ed in (chains included), so a conditional write never matches, nor
        reveals, a resource the caller may not see. Without them: no access constraint.
        """
        query = await self.criteria_filter(
            resource_type=resource_type, params=params, session=session, ctx=ctx, gate=gate
        )
        collection = self.db[resource_collection_name(resource_type)]
        cursor = collection.find(query, {f.ID: 1}, limit=limit, session=session)
        return [doc[f.ID] async for doc in cursor]

    def check_criteria(self, *, resource_type: str, params: list[tuple[str, str]]) -> None:
        """Raise ``BadRequest`` unless these are valid strict search criteria on the type."""
        if not self.registry.is_resource_type(resource_type):
            raise BadRequest(f"unknown resource type '{resource_type}'")
        self.parser(now=datetime.now(UTC)).criteria_for(resource_type, params)

    async def criteria_filter(
        self,
        *,
        resource_type: str,
        params: list[tuple[str, str]],
        session: Session | None = None,
        ctx: RequestContext | None = None,
        gate: AccessGate | None = None,
    ) -> dict[str, Any]:
        """The MongoDB filter a strict search of these criteria applies to the type's stored
        documents (deletions excluded; with ``ctx`` and ``gate``, that caller's access constraint
        AND-ed in). Chains and ``_has`` are resolved now: the filter is a snapshot, to use at once.
        Subscriptions run it on the versions a change stream brings (``fhir_server.subscriptions``)."""
        if not self.registry.is_resource_type(resource_type):
            raise BadRequest(f"unknown resource type '{resource_type}'")
        parser = self.parser(now=datetime.now(UTC))
        criteria = parser.criteria_for(resource_type, params)
        if ctx is not None and gate is not None:
            gate.check_search(ctx, resource_type, params)
        constraint = (
            AccessConstraint(ctx, gate, parser, self, session)
            if ctx is not None and gate is not None
            else None
        )
        resolver = Resolver(
            self.db,
            hop_limit=self.settings.search_hop_limit,
            constraint=constraint.clauses if constraint is not None else None,
            session=session,
        )
        clauses = await resolver.clauses(resource_type, criteria)
        if constraint is not None:
            clauses = [*clauses, *await constraint.clauses(resource_type)]
        return build_filter(clauses, trailing=[NOT_DELETED])

    async def duplicate_identifiers(
        self, *, resource_type: str, system: str, limit: int = 1000
    ) -> list[tuple[str, list[str]]]:
        """(value, ids) for every identifier value of ``system`` that more than one current
        resource of the type carries: what to merge before the system can be declared unique."""
        field = f.main_field("identifier")
        prefix = f"{system}|"
        pipeline: list[dict[str, Any]] = [
            {"$match": {field: {"$gte": prefix, "$lt": prefix + "\uffff"}, f.DELETED: {"$ne": True}}},
            {"$project": {f.ID: 1, "entry": f"${field}"}},
            {"$unwind": "$entry"},
            {"$match": {"entry": {"$gt": prefix, "$lt": prefix + "\uffff"}}},
            {"$group": {"_id": "$entry", "ids": {"$addToSet": f"${f.ID}"}}},
            {"$match": {"ids.1": {"$exists": True}}},
            {"$sort": {"_id": 1}},
            {"$limit": limit},
        ]
        collection = self.db[resource_collection_name(resource_type)]
        cursor = await collection.aggregate(pipeline)
        return [(str(doc["_id"])[len(prefix) :], sorted(doc["ids"])) async for doc in cursor]

    async def matching(
        self, *, resource_type: str, params: list[tuple[str, str]], limit: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Every current resource matching the criteria (strict), streamed, at most ``limit``;
        no access constraint: the caller decides what may leave (e.g. a report's totals)."""
        parser = self.parser(now=datetime.now(UTC))
        criteria = parser.criteria_for(resource_type, params)
        resolver = Resolver(self.db, hop_limit=self.settings.search_hop_limit)
        query = build_filter(await resolver.clauses(resource_type, criteria), trailing=[NOT_DELETED])
        collection = self.db[resource_collection_name(resource_type)]
        async for doc in collection.find(query, {f.RESOURCE: 1}, limit=limit, batch_size=1000):
            yield doc[f.RESOURCE]

    # ----- bulk export ----------------------------------------------------------------------------

    def export_slice(
        self,
        *,
        ctx: RequestContext,
        gate: AccessGate,
        selection: Selection,
        after: str | None,
        limit: int,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` resources of an export selection after an id, in id order (``export``)."""
        return slice_of(self, ctx=ctx, gate=gate, selection=selection, after=after, limit=limit)

    def check_filters(self, resource_type: str, filters: list[list[tuple[str, str]]]) -> None:
        """Each parameter set a valid strict search of the type (BadRequest naming the parameter)."""
        check_filters(self, resource_type, filters)

    # ----- search ----------------------------------------------------------------------------------

    async def search(
        self,
        *,
        ctx: RequestContext,
        gate: AccessGate,
        resource_type: str | None,
        params: list[tuple[str, str]],
        compartment: tuple[str, str] | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        scope = await self._scope(ctx, resource_type, compartment, params, session)
        parser = self.parser(now=now, lenient=ctx.lenient)
        query = parser.parse(resource_types=scope.types, params=params, system=scope.system)
        for searched in query.resource_types:
            gate.check_search(ctx, searched, params)  # no search by what the caller may not see
        constraint = AccessConstraint(ctx, gate, parser, self, session)
        resolver = Resolver(
            self.db, hop_limit=self.settings.search_hop_limit, constraint=constraint.clauses, session=session
        )
        filters: dict[str, list[Clause]] = {}
        for t in query.resource_types:
            clauses = await resolver.clauses(t, query.criteria[t]) + await constraint.clauses(t)
            if scope.compartment:
                clauses.append(c.equals(f.COMPARTMENTS, scope.compartment, c.RANK_COMPARTMENT))
            filters[t] = clauses
        return await _Page(self, ctx, gate, query, scope, filters, constraint, now, session).run()

    async def _scope(
        self,
        ctx: RequestContext,
        resource_type: str | None,
        compartment: tuple[str, str] | None,
        params: list[tuple[str, str]],
        session: Session | None,
    ) -> _Scope:
        if resource_type is not None and not self.registry.is_resource_type(resource_type):
            raise BadRequest(f"unknown resource type '{resource_type}'")
        if compartment is not None:
            ctype, cid = compartment
            members = self.registry.compartment_member_types(ctype)
            if ctype not in self.registry.compartment_types():
                raise BadRequest(f"'{ctype}' is not a compartment type")
            base_path = f"{ctx.base_url}/{ctype}/{cid}/{resource_type or '*'}"
            if resource_type is not None:
                if resource_type not in members:
                    raise BadRequest(f"{resource_type} is not in the {ctype} compartment")
                types = [resource_type]
            else:
                existing = set(await self._existing_types(session))
                types = [t for t in members if t in existing]
            # [base]/Patient/1/*?_type=Observation,Condition: a compartment-wide search takes _type.
            return _Scope(types, base_path, resource_type is None, f"{ctype}/{cid}")
        if resource_type is not None:
            return _Scope([resource_type], f"{ctx.base_url}/{resource_type}", False, None)
        types = [] if any(name == "_type" for name, _ in params) else await self._existing_types(session)
        return _Scope(types, ctx.base_url, True, None)

    async def _existing_types(self, session: Session | None) -> list[str]:
        prefix = resource_collection_name("")
        names = await self.db.list_collection_names(session=session)
        return sorted(
            n[len(prefix) :]
            for n in names
            if n.startswith(prefix) and self.registry.is_resource_type(n[len(prefix) :])
        )


class AccessConstraint:
    """The caller's access constraint per type, as clauses (computed once per search)."""

    def __init__(
        self,
        ctx: RequestContext,
        gate: AccessGate,
        parser: QueryParser,
        service: SearchService,
        session: Session | None,
    ) -> None:
        self.ctx = ctx
        self.gate = gate
        self.parser = parser
        self.service = service
        self.session = session
        self._cache: dict[str, list[Clause]] = {}

    async def clauses(self, resource_type: str) -> list[Clause]:
        cached = self._cache.get(resource_type)
        if cached is not None:
            return cached
        constraint = self.gate.search_constraint(self.ctx, resource_type)
        out: list[Clause] = []
        if constraint.compartment:
            out.append(c.equals(f.COMPARTMENTS, constraint.compartment, c.RANK_COMPARTMENT))
        if constraint.alternatives is not None:
            resolver = Resolver(
                self.service.db, hop_limit=self.service.settings.search_hop_limit, session=self.session
            )
            options = []
            for param_set in constraint.alternatives:
                criteria = self.parser.criteria_for(resource_type, param_set)
                options.append(await resolver.clauses(resource_type, criteria))
            if not options:
                out.append(c.NEVER)
            elif len(options) == 1:
                out.extend(options[0])
            else:
                out.append(Clause(residual=({"$or": [build_filter(o) for o in options]},)))
        self._cache[resource_type] = out
        return out


class _Page:
    """One page of one search: fetch, total, includes, entries, links."""

    def __init__(
        self,
        service: SearchService,
        ctx: RequestContext,
        gate: AccessGate,
        query: SearchQuery,
        scope: _Scope,
        filters: dict[str, list[Clause]],
        constraint: AccessConstraint,
        now: datetime,
        session: Session | None,
    ) -> None:
        self.service = service
        self.ctx = ctx
        self.gate = gate
        self.query = query
        self.scope = scope
        self.filters = filters
        self.constraint = constraint
        self.now = now
        self.session = session
        keys = [(k.field, -1 if k.descending else 1) for k in query.sort]
        self.order: p.Order
        if len(keys) <= 1:
            field, direction = keys[0] if keys else (f.ID, 1)
            self.order = p.SimpleOrder(field, direction, query.resource_types)
            key_count = 4
        else:
            self.order = p.GeneralOrder(keys, query.resource_types)
            key_count = len(self.order.sort)
        hashed = [(n, v) for n, v in query.applied if n not in _NOT_IN_HASH]
        self.hash = p.query_hash(hashed, scope.base_path)
        self.token = (
            p.decode_token(query.page, expected_hash=self.hash, key_count=key_count)
            if query.page is not None
            else None
        )
        self.cutoff = self.token.cutoff if self.token else now
        self.total: totals.Total | None = None

    async def run(self) -> dict[str, Any]:
        query = self.query
        count_only = query.summary == "count" or query.count == 0
        if count_only:
            links = [("self", b.link_url(self.scope.base_path, query.applied))]
            self.total = await self._total(None)
            return b.searchset(links=links, entries=self._outcome([], self._issues()), total=self._value())
        rows, has_more = await self._fetch()
        self.total = await self._total(len(rows) if self.token is None and not has_more else None)
        matches = [
            Row(t, doc[f.ID], doc[f.RESOURCE], doc.get(f.INDEX) or {})
            for t, doc in rows
            if doc.get(f.RESOURCE)
        ]
        loader = IncludeLoader(
            self.service.db,
            self.service.registry,
            self.constraint.clauses,
            self.service.settings.include_limit,
            self.session,
        )
        included = await loader.load(matches, query.includes, query.revincludes)
        issues = self._issues()
        if loader.truncated:
            issues.append(
                Issue(
                    "too-costly",
                    f"_include/_revinclude added only the first {loader.limit} resources",
                    "warning",
                )
            )
        entries = [self._entry(row.resource, "match") for row in matches if self._visible(row.resource)]
        entries += [self._entry(row.resource, "include") for row in included if self._visible(row.resource)]
        return b.searchset(
            links=self._links(rows, has_more),
            entries=self._outcome(entries, issues),
            total=self._value(),
        )

    # ----- pieces ----------------------------------------------------------------------------------

    def _visible(self, resource: dict[str, Any]) -> bool:
        return self.gate.can_see(self.ctx, resource)

    def _entry(self, resource: dict[str, Any], mode: str) -> dict[str, Any]:
        shaped = shape_resource(
            resource, summary=self.query.summary, elements=self.query.elements, registry=self.service.registry
        )
        return b.entry(self.ctx.base_url, shaped, mode)

    def _outcome(
        self, entries: list[dict[str, Any]], issues: list[Issue] | None = None
    ) -> list[dict[str, Any]]:
        issues = self.query.issues if issues is None else issues
        return [*entries, b.outcome_entry(issues)] if issues else entries

    def _trailing(self) -> list[tuple[str, Any]]:
        trailing: list[tuple[str, Any]] = [NOT_DELETED]
        if self.token is not None:
            trailing.append((f.LAST_UPDATED, {"$lte": self.cutoff}))
        return trailing

    def _issues(self) -> list[Issue]:
        """The query's issues, and the note that the total is an estimate when it is."""
        estimate = self.total.issue() if self.total is not None else None
        return [*self.query.issues, estimate] if estimate is not None else list(self.query.issues)

    def _value(self) -> int | None:
        return self.total.value if self.total is not None else None

    def _count_queries(self) -> totals.Queries:
        db = self.service.db
        trailing = self._trailing()
        return {
            t: (db[resource_collection_name(t)], build_filter(self.filters[t], trailing=trailing))
            for t in self.query.resource_types
        }

    async def _total(self, whole_page: int | None) -> totals.Total | None:
        """``Bundle.total`` as ``_total`` asks (see ``fhir_server.search.totals``); ``whole_page``:
        the size of a first page that holds every match."""
        mode = self.query.total
        count_only = self.query.summary == "count" or self.query.count == 0
        if mode == "none":
            return None
        if mode == "accurate" or (mode is None and count_only):
            return await totals.accurate(self._count_queries(), self.session)
        if whole_page is not None:
            return totals.Total(whole_page)
        if self.token is not None and self.token.total is not None:
            return totals.Total(self.token.total, self.token.estimated)
        return await totals.bounded(self._count_queries(), self.session)

    def _projection(self) -> dict[str, int]:
        projection = {f.RESOURCE: 1, f.LAST_UPDATED: 1}
        sort_fields = (
            [self.order.field] if isinstance(self.order, p.SimpleOrder) else [s for s, _ in self.order.sort]
        )
        for field in sort_fields:
            if field != p.TYPE_KEY:
                projection[field] = 1
        loader_fields = IncludeLoader(self.service.db, self.service.registry, self.constraint.clauses, 0)
        specs = [*self.query.includes, *self.query.revincludes]
        for field in loader_fields.projection_fields(specs, self.query.resource_types):
            projection[field] = 1
        return projection

    async def _fetch(self) -> tuple[list[p.Row], bool]:
        """One page in sort order, and whether more rows follow in the walking direction."""
        token = self.token
        backwards = token is not None and token.direction == "p"
        limit = self.query.count + 1
        projection = self._projection()
        order = self.order
        sign = -1 if backwards else 1
        rows: list[p.Row] = []
        for phase in order.phases(token.anchor if token else None, backwards):
            found: list[p.Row] = []
            for t in self.query.resource_types:
                condition = phase.conditions.get(t)
                if condition is None:
                    continue
                query = build_filter(self.filters[t], trailing=[*self._trailing(), *condition])
                collection = self.service.db[resource_collection_name(t)]
                cursor = collection.find(
                    query, projection, sort=phase.sort, limit=limit - len(rows), session=self.session
                )
                found.extend([(t, doc) async for doc in cursor])
            if len(self.query.resource_types) > 1:

                def walking_order(a: p.Row, b: p.Row) -> int:
                    return sign * order.compare(order.key(a), order.key(b))

                found.sort(key=cmp_to_key(walking_order))
            rows.extend(found[: limit - len(rows)])
            if len(rows) >= limit:
                break
        has_more = len(rows) > self.query.count
        rows = rows[: self.query.count]
        if backwards:
            rows.reverse()
        return rows, has_more

    def _links(self, rows: list[p.Row], has_more: bool) -> list[tuple[str, str]]:
        applied = self.query.applied
        base = self.scope.base_path
        self_pairs = [*applied, (PAGE_PARAM, self.query.page)] if self.query.page is not None else applied
        links = [("self", b.link_url(base, self_pairs)), ("first", b.link_url(base, applied))]
        backwards = self.token is not None and self.token.direction == "p"
        if rows:
            has_previous = has_more if backwards else self.token is not None
            has_next = True if backwards else has_more
            if has_previous:
                anchor = self._token("p", self.order.key(rows[0]))
                links.append(("previous", b.link_url(base, [*applied, (PAGE_PARAM, anchor)])))
            if has_next:
                anchor = self._token("n", self.order.key(rows[-1]))
                links.append(("next", b.link_url(base, [*applied, (PAGE_PARAM, anchor)])))
        return links

    def _token(self, direction: str, anchor: tuple[Any, ...]) -> str:
        # The total travels with the token unless it is recounted on every page (accurate).
        carried = self.total if self.query.total != "accurate" else None
        return p.encode_token(
            p.PageToken(
                direction,
                self.cutoff,
                self.hash,
                anchor,
                carried.value if carried is not None else None,
                carried.estimated if carried is not None else False,
            )
        )
