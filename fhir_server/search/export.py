"""Reading a whole selection of one type, in ``_id`` order, a bounded slice at a time (bulk export).

A :class:`Selection` is what one exported type is: optional ``_typeFilter`` searches (ORed, each
parsed and resolved by the ordinary search code, strict), a compartment restriction (the patients
of a Group, or "some patient" for a Patient-level export), and ``_since``. The caller's access
constraint is ANDed in exactly as for a search. ``slice`` returns the documents after an ``_id``,
so an export can checkpoint after each slice and resume from the last id it wrote.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fhir_server.access import AccessGate
from fhir_server.context import RequestContext
from fhir_server.search import clauses as c
from fhir_server.search import fields as f
from fhir_server.search.clauses import Clause, build_filter
from fhir_server.search.resolver import NOT_DELETED, Resolver
from fhir_server.store.documents import resource_collection_name

if TYPE_CHECKING:
    from fhir_server.search.service import SearchService

ParamSet = list[tuple[str, str]]
_BATCH = 500


@dataclass(frozen=True)
class Selection:
    """Which resources of one type an export takes."""

    resource_type: str
    filters: Sequence[ParamSet] = ()  # OR of AND-ed search parameter sets; none: every resource
    compartments: Sequence[str] | None = None  # in one of these compartments ("Patient/1" ...)
    compartment_type: str | None = None  # in some compartment of this type ("Patient")
    ids: Sequence[str] | None = None  # only these ids
    since: datetime | None = None  # last updated after this moment


def check_filters(service: SearchService, resource_type: str, filters: Sequence[ParamSet]) -> None:
    """Parse each filter as a strict search of the type (BadRequest naming the parameter)."""
    parser = service.parser(now=datetime.now(UTC))
    for params in filters:
        parser.criteria_for(resource_type, params)


async def _filter(
    service: SearchService, ctx: RequestContext, gate: AccessGate, selection: Selection
) -> tuple[list[Clause], bool]:
    """The selection's clauses (access constraint included), and whether one of them narrows by
    an index enough that walking ``_id`` should not be the driver."""
    from fhir_server.search.service import AccessConstraint

    resource_type = selection.resource_type
    parser = service.parser(now=datetime.now(UTC))
    constraint = AccessConstraint(ctx, gate, parser, service, None)
    resolver = Resolver(
        service.db, hop_limit=service.settings.search_hop_limit, constraint=constraint.clauses
    )
    clauses = list(await constraint.clauses(resource_type))
    narrow = any(clause.rank <= c.RANK_COMPARTMENT for clause in clauses)
    if selection.filters:
        options = [
            await resolver.clauses(resource_type, parser.criteria_for(resource_type, params))
            for params in selection.filters
        ]
        if len(options) == 1:
            clauses.extend(options[0])
        else:
            clauses.append(Clause(residual=({"$or": [build_filter(o) for o in options]},)))
    if selection.ids is not None:
        clauses.append(Clause(indexed=((f.ID, {"$in": list(selection.ids)}),), rank=c.RANK_ID))
        narrow = True
    if selection.compartments is not None:
        members = {"$in": list(selection.compartments)}
        clauses.append(Clause(indexed=((f.COMPARTMENTS, members),), rank=c.RANK_COMPARTMENT))
        narrow = True
    elif selection.compartment_type is not None:
        # "In some patient's compartment": a prefix that every resource of a member type has;
        # left to the _id walk (the compartment index would not keep _id order).
        prefix = f"{selection.compartment_type}/"
        clauses.append(Clause(residual=({f.COMPARTMENTS: {"$gte": prefix, "$lt": prefix + "\uffff"}},)))
    if selection.since is not None:
        clauses.append(Clause(residual=({f.LAST_UPDATED: {"$gt": selection.since}},)))
    return clauses, narrow


async def slice_of(
    service: SearchService,
    *,
    ctx: RequestContext,
    gate: AccessGate,
    selection: Selection,
    after: str | None,
    limit: int,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Up to ``limit`` current resources of the selection with ids after ``after``, in ``_id``
    order, as (id, resource), streamed from the database."""
    clauses, narrow = await _filter(service, ctx, gate, selection)
    # Walk _id (an index in _id order) unless a narrower index should drive: SecantusDB serves a
    # query from the first indexed field, and a real MongoDB plans the same way here.
    walk = Clause(indexed=((f.ID, {"$gt": after or ""}),), rank=c.RANK_OTHER + 1 if narrow else c.RANK_ID - 1)
    query = build_filter([*clauses, walk], trailing=[NOT_DELETED])
    collection = service.db[resource_collection_name(selection.resource_type)]
    cursor = collection.find(
        query, {f.RESOURCE: 1}, sort=[(f.ID, 1)], limit=limit, batch_size=min(limit, _BATCH)
    )
    async for doc in cursor:
        resource = doc.get(f.RESOURCE)
        if resource is not None:
            yield doc[f.ID], resource
