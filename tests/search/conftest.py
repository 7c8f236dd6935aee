"""Fixtures for search tests: a registry, and a store that writes documents the way the repository
does (``ix`` and ``comp`` from our indexer) into the suite's MongoDB wire server (``mongo_uri`` from
tests/conftest.py), then searches them directly through SearchService."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.access import AccessGate, AllowAll
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.context import Principal, RequestContext
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.indexes import index_models
from fhir_server.search.service import SearchService
from fhir_server.settings import Settings
from fhir_server.store.documents import resource_collection_name

BASE = "http://test.example/fhir"


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def search_client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(scope="session")
def registry() -> ConformanceRegistry:
    return ConformanceRegistry.create(profile_dirs=[])


@pytest.fixture(scope="session")
def indexer(registry: ConformanceRegistry) -> SearchIndexer:
    return SearchIndexer(registry, base_url=BASE)


class Store:
    """Documents in the repository's shape, and the SearchService over them."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        registry: ConformanceRegistry,
        indexer: SearchIndexer,
        **settings: Any,
    ) -> None:
        self.db = db
        self.registry = registry
        self.indexer = indexer
        self.settings = Settings(mongodb_uri="mongodb://unused", base_url=BASE, **settings)
        self.service = SearchService(db, registry, self.settings)
        self.clock = datetime(2024, 1, 1, tzinfo=UTC)
        self._ready: set[str] = set()
        self.ctx = RequestContext(principal=Principal.system(), base_url=BASE)

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    async def put(self, *resources: dict[str, Any]) -> None:
        for resource in resources:
            resource_type = resource["resourceType"]
            collection = self.db[resource_collection_name(resource_type)]
            if resource_type not in self._ready:
                await collection.create_indexes(index_models(self.registry, resource_type))
                self._ready.add(resource_type)
            moment = self.tick()
            # stamped like the repository does: meta.lastUpdated is the document's lu
            meta = {**resource.get("meta", {}), "lastUpdated": moment.isoformat().replace("+00:00", "Z")}
            resource = {**resource, "meta": meta}
            doc = {
                "_id": resource["id"],
                "v": 1,
                "lu": moment,
                "del": False,
                "res": resource,
                "ix": self.indexer.extract(resource),
                "comp": self.indexer.compartments(resource),
            }
            await collection.replace_one({"_id": resource["id"]}, doc, upsert=True)

    async def delete(self, resource_type: str, resource_id: str) -> None:
        collection = self.db[resource_collection_name(resource_type)]
        await collection.update_one(
            {"_id": resource_id},
            {"$set": {"del": True, "res": None, "ix": {}, "comp": [], "lu": self.tick()}},
        )

    async def search(
        self,
        resource_type: str | None,
        params: list[tuple[str, str]] | str,
        *,
        gate: AccessGate | None = None,
        ctx: RequestContext | None = None,
        compartment: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        if isinstance(params, str):
            from urllib.parse import parse_qsl

            params = parse_qsl(params, keep_blank_values=True)
        return await self.service.search(
            ctx=ctx or self.ctx,
            gate=gate or AllowAll(),
            resource_type=resource_type,
            params=params,
            compartment=compartment,
        )

    async def ids(
        self, resource_type: str | None, params: list[tuple[str, str]] | str, **kw: Any
    ) -> list[str]:
        bundle = await self.search(resource_type, params, **kw)
        return sorted(e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match")


@pytest_asyncio.fixture(loop_scope="session")
async def store(
    search_client: AsyncMongoClient[dict[str, Any]], registry: ConformanceRegistry, indexer: SearchIndexer
) -> AsyncIterator[Store]:
    name = f"search_{uuid.uuid4().hex[:12]}"
    try:
        yield Store(search_client[name], registry, indexer)
    finally:
        await search_client.drop_database(name)
