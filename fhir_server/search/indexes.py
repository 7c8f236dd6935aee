"""The MongoDB indexes of one ``resources.<Type>`` collection, derived from its search parameters.

Every searchable parameter gets an index on its main ``ix.<code>`` array, compound with ``_id`` so
an equality lookup also walks in the default keyset order. Date, number and quantity parameters
also get single-field indexes on ``@lo`` and ``@hi`` (one-sided comparisons). ``comp`` (compartment
membership, used by patient-scoped access and compartment search) is indexed with ``_id`` too.

MongoDB allows 64 indexes per collection; ``_id`` and the repository's own ``lu_id`` and ``refs``
take three. When a type has more candidates than fit (no R4B type does: Observation, the largest,
needs 59 with every parameter), they are kept in priority order: compartment links, references,
identifiers and tokens, strings, dates, quantities, the rest, and bounds (``@lo``/``@hi``) last.
A parameter that lost its index still works; it is served by the other criteria of a query or
scanned. Sort keys (``@a``/``@d``) are not indexed: sorting happens after the indexed narrowing.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from fhir_server.conformance.registry import ConformanceRegistry, SearchParamDef
from fhir_server.search import fields as f

MAX_INDEXES = 64
RESERVED = 3  # _id_, lu_id and refs (created by the repository)
_TYPE_PRIORITY = {
    "reference": 1,
    "token": 2,
    "string": 3,
    "date": 4,
    "quantity": 5,
    "number": 5,
    "uri": 6,
    "composite": 7,
}
_BOUND_PRIORITY = 10
_NOT_INDEXED = frozenset({"_id", "_lastUpdated"})  # the document's own _id and lu


def _candidates(registry: ConformanceRegistry, resource_type: str) -> list[tuple[int, str, IndexModel]]:
    compartment_codes = {
        code
        for ctype in registry.compartment_types()
        for code in registry.compartment_params(ctype, resource_type)
    }
    out: list[tuple[int, str, IndexModel]] = []
    params: list[SearchParamDef] = [
        p for p in registry.search_parameters(resource_type) if p.searchable and p.code not in _NOT_INDEXED
    ]
    for param in params:
        priority = 0 if param.code in compartment_codes else _TYPE_PRIORITY.get(param.type, 8)
        if param.code.startswith("_"):
            priority = 8
        main = f.main_field(param.code)
        out.append(
            (
                priority,
                param.code,
                IndexModel([(main, ASCENDING), (f.ID, ASCENDING)], name=f"ix_{param.code}"),
            )
        )
        if param.type in ("date", "number", "quantity"):
            for suffix, tag in ((f.LOW, "lo"), (f.HIGH, "hi")):
                field = f.sub_field(param.code, suffix)
                out.append(
                    (
                        _BOUND_PRIORITY,
                        param.code,
                        IndexModel([(field, ASCENDING)], name=f"ix_{param.code}_{tag}"),
                    )
                )
    return out


def index_models(registry: ConformanceRegistry, resource_type: str) -> list[IndexModel]:
    """Indexes for ``resources.<resource_type>`` (the repository creates them on first use)."""
    models = [IndexModel([(f.COMPARTMENTS, ASCENDING), (f.ID, ASCENDING)], name="comp")]
    budget = MAX_INDEXES - RESERVED - len(models)
    ranked = sorted(_candidates(registry, resource_type), key=lambda item: (item[0], item[1]))
    return models + [model for _, _, model in ranked[:budget]]
