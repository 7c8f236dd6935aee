"""``_include`` and ``_revinclude`` (named, ``*``, ``:iterate``), read from the stored index.

References come from the ``ix`` entries of the page's documents (already relative "Type/id"), so
no resource is re-parsed; ``_revinclude=*`` (and ``Type:*``) reads the stored ``refs`` list instead,
every local reference a resource makes. Every fetch carries the caller's access constraint for the fetched
type, and ``gate.can_see`` is asked once more for each resource before it joins the page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.errors import Forbidden
from fhir_server.search import fields as f
from fhir_server.search.clauses import Clause, build_filter
from fhir_server.search.fhirpath import reference_type
from fhir_server.search.query import IncludeSpec
from fhir_server.search.resolver import NOT_DELETED
from fhir_server.store.documents import REFERENCES, resource_collection_name

MAX_ITERATIONS = 4


@dataclass
class Row:
    """A document on the page: its type, id, resource and the ``ix`` entries we read back."""

    resource_type: str
    id: str
    resource: dict[str, Any]
    ix: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.resource_type}/{self.id}"


ConstraintFn = Callable[[str], Awaitable[list[Clause]]]


@dataclass
class IncludeLoader:
    db: AsyncDatabase[dict[str, Any]]
    registry: ConformanceRegistry
    constraint: ConstraintFn
    limit: int
    session: AsyncClientSession | None = None
    truncated: bool = False
    iterate: bool = False  # included documents must carry their ix (for the next round)

    def reference_params(self, spec: IncludeSpec, resource_type: str) -> list[str]:
        if spec.param is not None:
            return [spec.param]
        return [p.code for p in self.registry.search_parameters(resource_type) if p.type == "reference"]

    def projection_fields(self, specs: list[IncludeSpec], resource_types: list[str]) -> set[str]:
        """``ix`` fields the page's documents must carry for these includes."""
        wanted: set[str] = set()
        for spec in specs:
            for resource_type in resource_types:
                if spec.source_type in ("*", resource_type):
                    wanted.update(f.main_field(code) for code in self.reference_params(spec, resource_type))
        return wanted

    async def load(
        self, matches: list[Row], includes: list[IncludeSpec], revincludes: list[IncludeSpec]
    ) -> list[Row]:
        seen = {row.key for row in matches}
        self.iterate = any(s.iterate for s in [*includes, *revincludes])
        added: list[Row] = []
        frontier = matches
        for round_number in range(MAX_ITERATIONS):
            active_inc = [s for s in includes if round_number == 0 or s.iterate]
            active_rev = [s for s in revincludes if round_number == 0 or s.iterate]
            if not (active_inc or active_rev) or not frontier:
                break
            found: list[Row] = []
            for spec in active_inc:
                found += await self._forward(spec, frontier, seen)
            for spec in active_rev:
                found += await self._reverse(spec, frontier, seen)
            added += found
            if len(added) >= self.limit:
                self.truncated = len(added) > self.limit
                return added[: self.limit]
            frontier = found
        return added

    async def _forward(self, spec: IncludeSpec, frontier: list[Row], seen: set[str]) -> list[Row]:
        wanted: dict[str, list[str]] = {}
        for row in frontier:
            if spec.source_type not in ("*", row.resource_type):
                continue
            for code in self.reference_params(spec, row.resource_type):
                for ref in row.ix.get(code, []):
                    target = reference_type(ref) if isinstance(ref, str) and "://" not in ref else None
                    if target is None or (spec.target and target != spec.target) or ref in seen:
                        continue
                    if not self.registry.is_resource_type(target) or ref.count("/") != 1:
                        continue
                    seen.add(ref)
                    wanted.setdefault(target, []).append(ref.split("/", 1)[1])
        rows: list[Row] = []
        for target, ids in wanted.items():
            rows += await self._fetch(target, [(f.ID, {"$in": ids})])
        return rows

    async def _reverse(self, spec: IncludeSpec, frontier: list[Row], seen: set[str]) -> list[Row]:
        refs = [row.key for row in frontier if spec.target in (None, row.resource_type)]
        if not refs:
            return []
        if spec.param is not None:
            rows = await self._fetch(spec.source_type, [(f.main_field(spec.param), {"$in": refs})])
        else:
            rows = await self._referring(spec.source_type, refs)
        fresh = [row for row in rows if row.key not in seen]
        seen.update(row.key for row in fresh)
        return fresh

    async def _referring(self, source_type: str, refs: list[str]) -> list[Row]:
        """``_revinclude=*`` / ``Type:*``: resources (of any type / of one) referring to the page's
        through any reference, read from the stored ``refs`` list (indexed in every collection).
        Types the caller may not search are left out, as what it may not see always is."""
        if source_type != "*":
            types = [source_type]
        else:
            prefix = resource_collection_name("")
            names = await self.db.list_collection_names(session=self.session)
            types = sorted(n[len(prefix) :] for n in names if n.startswith(prefix))
            types = [t for t in types if self.registry.is_resource_type(t)]
        rows: list[Row] = []
        for resource_type in types:
            try:
                rows += await self._fetch(resource_type, [(REFERENCES, {"$in": refs})])
            except Forbidden:
                if source_type != "*":
                    raise
        return rows

    async def _fetch(self, resource_type: str, conditions: list[tuple[str, Any]]) -> list[Row]:
        constraint = await self.constraint(resource_type)
        query = build_filter([Clause(indexed=tuple(conditions), rank=0), *constraint], trailing=[NOT_DELETED])
        collection = self.db[resource_collection_name(resource_type)]
        cursor = collection.find(
            query,
            {f.RESOURCE: 1, f.INDEX: 1} if self.iterate else {f.RESOURCE: 1},
            limit=self.limit + 1,
            session=self.session,
        )
        rows = []
        async for doc in cursor:
            if doc.get(f.RESOURCE) is None:
                continue
            rows.append(Row(resource_type, doc[f.ID], doc[f.RESOURCE], doc.get(f.INDEX) or {}))
        if len(rows) > self.limit:
            self.truncated = True
        return rows
