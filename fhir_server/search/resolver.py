"""Resolve chained and ``_has`` criteria, and access constraints, into plain clauses.

Each hop is one indexed sub-query whose answer is bounded by ``search_hop_limit``: a chain
``subject:Patient.name=x`` finds the matching Patient ids (at most the limit), then becomes
``ix.subject $in ["Patient/..."]``; ``_has:Observation:patient:code=x`` collects the distinct
``patient`` references of matching Observations. When a hop would exceed the bound the search is
refused with TooCostly rather than answered wrongly. Every hop also carries the caller's access
constraint for the hop's type, so a chain cannot probe resources the caller may not see.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.errors import TooCostly
from fhir_server.search import clauses as c
from fhir_server.search import fields as f
from fhir_server.search.clauses import Clause, build_filter
from fhir_server.search.encoders import local_references
from fhir_server.search.query import Criterion
from fhir_server.search.translate import references_in
from fhir_server.store.documents import resource_collection_name

ConstraintFn = Callable[[str], Awaitable[list[Clause]]]
NOT_DELETED = (f.DELETED, {"$ne": True})


async def _no_constraint(resource_type: str) -> list[Clause]:
    return []


class Resolver:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        *,
        hop_limit: int,
        constraint: ConstraintFn | None = None,
        session: AsyncClientSession | None = None,
    ) -> None:
        self.db = db
        self.hop_limit = hop_limit
        self.constraint = constraint or _no_constraint
        self.session = session

    async def clauses(self, resource_type: str, criteria: list[Criterion]) -> list[Clause]:
        return [await self.resolve(resource_type, criterion) for criterion in criteria]

    async def resolve(self, resource_type: str, criterion: Criterion) -> Clause:
        if criterion.clause is not None:
            return criterion.clause
        if criterion.has is not None and criterion.has_type is not None and criterion.via is not None:
            return await self._reverse_chain(resource_type, criterion)
        if criterion.via is None:
            return c.NEVER
        refs: list[str] = []
        for target, inner in criterion.chained.items():
            ids = await self._ids(target, inner, criterion.name)
            refs.extend(f"{target}/{i}" for i in ids)
        return references_in(criterion.via, refs)

    async def hop_filter(self, resource_type: str, criterion: Criterion) -> dict[str, Any]:
        inner = await self.resolve(resource_type, criterion)
        constraint = await self.constraint(resource_type)
        return build_filter([inner, *constraint], trailing=[NOT_DELETED])

    async def _ids(self, resource_type: str, criterion: Criterion, name: str) -> list[str]:
        query = await self.hop_filter(resource_type, criterion)
        collection = self.db[resource_collection_name(resource_type)]
        cursor = collection.find(query, {f.ID: 1}, limit=self.hop_limit + 1, session=self.session)
        ids = [doc[f.ID] async for doc in cursor]
        if len(ids) > self.hop_limit:
            raise TooCostly(self._too_costly(name, resource_type), (name,))
        return ids

    async def _reverse_chain(self, resource_type: str, criterion: Criterion) -> Clause:
        assert criterion.has is not None and criterion.has_type is not None and criterion.via is not None
        query = await self.hop_filter(criterion.has_type, criterion.has)
        collection = self.db[resource_collection_name(criterion.has_type)]
        values = await collection.distinct(f.main_field(criterion.via.code), query, session=self.session)
        refs = local_references([v for v in values if isinstance(v, str)], resource_type)
        if len(refs) > self.hop_limit:
            raise TooCostly(self._too_costly(criterion.name, resource_type), (criterion.name,))
        ids = [r.split("/", 1)[1] for r in refs]
        if not ids:
            return c.NEVER
        return Clause(indexed=((f.ID, {"$in": ids}),), rank=c.RANK_ID)

    def _too_costly(self, name: str, resource_type: str) -> str:
        return (
            f"search parameter '{name}' matches more than {self.hop_limit} {resource_type} resources; "
            "narrow the criterion (the server bounds chained and _has searches)"
        )
