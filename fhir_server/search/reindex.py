"""Re-extract ``ix`` and ``comp`` of stored resources (after a SearchParameter was added).

Works through each collection in ``_id`` order, in batches. A document is rewritten only if its
version is still the one read, so a concurrent write (which stored a fresh index itself) wins.
The collection's index set is refreshed first, so a new parameter gets its index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.search import fields as f
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.indexes import index_models
from fhir_server.store.documents import VERSION, resource_collection_name

logger = logging.getLogger(__name__)


async def reindex(
    *,
    db: AsyncDatabase[dict[str, Any]],
    registry: ConformanceRegistry,
    indexer: SearchIndexer,
    resource_types: Iterable[str],
    batch_size: int = 500,
) -> dict[str, int]:
    """Reindex every current resource of these types; returns the count rewritten per type."""
    counts: dict[str, int] = {}
    for resource_type in resource_types:
        collection = db[resource_collection_name(resource_type)]
        await collection.create_indexes(index_models(registry, resource_type))
        done = 0
        last_id: str | None = None
        while True:
            query: dict[str, Any] = {f.DELETED: {"$ne": True}}
            if last_id is not None:
                query[f.ID] = {"$gt": last_id}
            cursor = collection.find(query, {f.RESOURCE: 1, VERSION: 1}, sort=[(f.ID, 1)], limit=batch_size)
            batch = [doc async for doc in cursor]
            if not batch:
                break
            updates = []
            for doc in batch:
                resource = doc.get(f.RESOURCE)
                if not resource:
                    continue
                ix, comp = indexer.index(resource)
                updates.append(
                    UpdateOne(
                        {f.ID: doc[f.ID], VERSION: doc.get(VERSION)},
                        {"$set": {f.INDEX: ix, f.COMPARTMENTS: comp}},
                    )
                )
            if updates:
                result = await collection.bulk_write(updates, ordered=False)
                done += result.modified_count
            last_id = batch[-1][f.ID]
        counts[resource_type] = done
        logger.info("reindexed %d %s resources", done, resource_type)
    return counts
