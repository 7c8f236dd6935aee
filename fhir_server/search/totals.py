"""``Bundle.total``: present by default when it is cheap, an estimate (said so) when it is not.

- ``_total=none``: no total.
- ``_total=accurate``: every match counted, on every page.
- no ``_total``, or ``_total=estimate``: a first page that holds every match is its own count.
  Otherwise the matches are counted up to :data:`TOTAL_BOUND` (an index count that stops there);
  above it the total is an estimate, the collection's size times the share of a random sample
  that matches, and the Bundle carries an informational issue saying so. Later pages repeat the
  first page's total (the page token carries it) instead of counting again.
- ``_summary=count`` and ``_count=0`` ask for nothing but the count: accurate unless ``_total``
  says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from fhir_server.errors import Issue

TOTAL_BOUND: Final = 10_000
SAMPLE_SIZE: Final = 500

Collection = AsyncCollection[dict[str, Any]]
Queries = Mapping[str, tuple[Collection, dict[str, Any]]]  # per searched type: its collection, its filter


@dataclass(frozen=True)
class Total:
    value: int
    estimated: bool = False

    def issue(self) -> Issue | None:
        """What the Bundle says about an estimated total (None for an exact one)."""
        if not self.estimated:
            return None
        return Issue(
            "informational",
            f"Bundle.total is an estimate: more than {TOTAL_BOUND} resources match "
            "(send _total=accurate for an exact count)",
            "information",
            ("_total",),
        )


async def accurate(queries: Queries, session: AsyncClientSession | None) -> Total:
    total = 0
    for collection, query in queries.values():
        total += await collection.count_documents(query, session=session)
    return Total(total)


async def bounded(queries: Queries, session: AsyncClientSession | None) -> Total:
    """Exact up to :data:`TOTAL_BOUND` matches per type, estimated beyond."""
    total = 0
    estimated = False
    for collection, query in queries.values():
        counted = await collection.count_documents(query, limit=TOTAL_BOUND + 1, session=session)
        if counted <= TOTAL_BOUND:
            total += counted
            continue
        estimated = True
        total += max(TOTAL_BOUND + 1, await _estimate(collection, query))
    return Total(total, estimated)


async def _estimate(collection: Collection, query: dict[str, Any]) -> int:
    """The collection's size (from its metadata) times the share of a random sample that matches.
    Outside any transaction: an estimate needs no snapshot, and ``count`` is not allowed in one."""
    size = await collection.estimated_document_count()
    if size == 0:
        return 0
    pipeline: list[dict[str, Any]] = [
        {"$sample": {"size": SAMPLE_SIZE}},
        {"$match": query},
        {"$count": "n"},
    ]
    cursor = await collection.aggregate(pipeline)
    matched = sum([int(doc["n"]) async for doc in cursor])
    return round(size * matched / min(SAMPLE_SIZE, size))
