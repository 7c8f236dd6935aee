"""Search latency over the shared Synthea data, straight through SearchService (no HTTP).

Loads the Synthea bundles (hospital and practitioner bundles first; urn:uuid and conditional
references resolved to "Type/id"), indexes every resource with SearchIndexer (the per-resource
extraction time is reported), stores documents in the repository's shape, then runs a mix of
searches and prints p50/p95 per query.

    uv run python benchmarks/search_bench.py [--sets synthea-2021 synthea-2019] [--bundles 10] [--runs 30]

Uses FHIR_MONGODB_URI when set, else an embedded in-memory SecantusDB.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from benchmarks.stats import percentile
from fhir_server.access import AllowAll
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.context import Principal, RequestContext
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.indexes import index_models
from fhir_server.search.service import SearchService
from fhir_server.settings import Settings
from fhir_server.store.documents import resource_collection_name
from fhir_server.store.embedded import MEMORY, start_embedded

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BASE = "http://bench.example/fhir"
Resource = dict[str, Any]


def _bundles(sets: list[str], limit: int) -> list[Path]:
    paths: list[Path] = []
    for name in sets:
        folder = DATA / name
        files = sorted(folder.glob("*.json.gz"))
        shared = [p for p in files if p.name.startswith(("hospital", "practitioner"))]
        patients = [p for p in files if p not in shared]
        paths += shared + patients[:limit]
    return paths


def _walk_references(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node
        for value in node.values():
            yield from _walk_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_references(item)


class Loader:
    """Resolves bundle-internal and conditional references, the way a transaction would."""

    def __init__(self) -> None:
        self.by_url: dict[str, str] = {}
        self.by_identifier: dict[str, str] = {}
        self.resources: dict[str, Resource] = {}  # "Type/id" -> resource (shared ones appear in many bundles)

    def add_bundle(self, bundle: dict[str, Any]) -> None:
        entries = [e for e in bundle.get("entry", []) if "resource" in e]
        for entry in entries:
            resource = entry["resource"]
            resource.setdefault("id", str(uuid.uuid4()))
            key = f"{resource['resourceType']}/{resource['id']}"
            if entry.get("fullUrl"):
                self.by_url[entry["fullUrl"]] = key
            for identifier in resource.get("identifier", []):
                system, value = identifier.get("system", ""), identifier.get("value")
                self.by_identifier[f"{resource['resourceType']}?identifier={system}|{value}"] = key
        for entry in entries:
            resource = entry["resource"]
            for reference in _walk_references(resource):
                target = reference["reference"]
                resolved = self.by_url.get(target) or self.by_identifier.get(target)
                if resolved:
                    reference["reference"] = resolved
            self.resources.setdefault(f"{resource['resourceType']}/{resource['id']}", resource)


async def load(db: AsyncDatabase[dict[str, Any]], registry: ConformanceRegistry, paths: list[Path]) -> float:
    loader = Loader()
    for path in paths:
        loader.add_bundle(orjson.loads(gzip.decompress(path.read_bytes())))
    indexer = SearchIndexer(registry, base_url=BASE)
    docs: dict[str, list[dict[str, Any]]] = {}
    started = time.process_time()  # CPU time: robust on a shared machine
    now = datetime.now(UTC)
    for resource in loader.resources.values():
        ix, comp = indexer.index(resource)
        docs.setdefault(resource["resourceType"], []).append(
            {"_id": resource["id"], "v": 1, "lu": now, "del": False, "res": resource, "ix": ix, "comp": comp}
        )
    per_resource = (time.process_time() - started) / max(len(loader.resources), 1)
    for resource_type, batch in docs.items():
        collection = db[resource_collection_name(resource_type)]
        await collection.create_indexes(index_models(registry, resource_type))
        for start in range(0, len(batch), 500):
            await collection.insert_many(batch[start : start + 500], ordered=False)
    print(f"loaded {len(loader.resources)} resources from {len(paths)} bundles")
    return per_resource


async def _sample(db: AsyncDatabase[dict[str, Any]], resource_type: str, count: int) -> list[dict[str, Any]]:
    cursor = db[resource_collection_name(resource_type)].find({}, {"res": 1}, limit=max(count * 5, 100))
    docs = [doc["res"] async for doc in cursor]
    return random.sample(docs, min(count, len(docs)))


async def build_queries(db: AsyncDatabase[dict[str, Any]], runs: int) -> dict[str, list[tuple[str, str]]]:
    """Query label -> list of (resource type, query string), one per run, from real values."""
    patients = await _sample(db, "Patient", runs)
    observations = await _sample(db, "Observation", runs)
    mix: dict[str, list[tuple[str, str]]] = {}

    def pick(items: list[dict[str, Any]], i: int) -> dict[str, Any]:
        return items[i % len(items)]

    for i in range(runs):
        patient = pick(patients, i)
        family = patient["name"][0]["family"]
        identifier = patient["identifier"][0]
        obs = pick(observations, i)
        code = obs["code"]["coding"][0]
        subject = obs["subject"]["reference"]
        year = (obs.get("effectiveDateTime") or "2015")[:4]
        queries = {
            "Patient?name=<prefix>": ("Patient", f"name={family[:4]}"),
            "Patient?identifier=<sys|value>": (
                "Patient",
                f"identifier={identifier['system']}|{identifier['value']}",
            ),
            "Observation?subject=&code=": (
                "Observation",
                f"subject={subject}&code={code['system']}|{code['code']}",
            ),
            "Observation?subject=&date=ge&date=lt": (
                "Observation",
                f"subject={subject}&date=ge{year}-01-01&date=lt{int(year) + 1}-01-01",
            ),
            "Observation?date=<one day>": (
                "Observation",
                f"date={(obs.get('effectiveDateTime') or '2015-01-01')[:10]}",
            ),
            "Observation?subject:Patient.name=&code=": (
                "Observation",
                f"subject:Patient.name={family}&code={code['code']}",
            ),
            "Patient?_has:Observation:patient:code=": (
                "Patient",
                f"_has:Observation:patient:code={code['code']}&name={family[:3]}",
            ),
            "Observation?subject=&_include=subject": (
                "Observation",
                f"subject={subject}&_include=Observation:subject&_count=20",
            ),
            "Patient?_id=&_revinclude=Encounter": (
                "Patient",
                f"_id={patient['id']}&_revinclude=Encounter:subject",
            ),
            "Observation?subject=&_sort=-date (4 pages)": (
                "Observation",
                f"subject={subject}&_sort=-date&_count=20",
            ),
            "Observation?code-value-quantity=": ("Observation", f"code-value-quantity={code['code']}$gt0"),
        }
        for label, query in queries.items():
            mix.setdefault(label, []).append(query)
    return mix


async def run(args: argparse.Namespace) -> None:
    import os

    registry = ConformanceRegistry.load()
    embedded = None
    uri = os.environ.get("FHIR_MONGODB_URI")
    if not uri:
        embedded = start_embedded(storage=MEMORY)
        uri = embedded.uri
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    name = f"search_bench_{uuid.uuid4().hex[:8]}"
    db = client[name]
    try:
        per_resource = await load(db, registry, _bundles(args.sets, args.bundles))
        print(f"index extraction: {per_resource * 1e6:.0f} us CPU per resource (ix + comp)")
        settings = Settings(mongodb_uri=uri, base_url=BASE)
        service = SearchService(db, registry, settings)
        ctx = RequestContext(principal=Principal.system(), base_url=BASE)
        gate = AllowAll()
        mix = await build_queries(db, args.runs)
        print(f"{'query':<46} {'p50 ms':>8} {'p95 ms':>8} {'hits':>6}")
        for label, queries in mix.items():
            latencies: list[float] = []
            hits = 0
            for resource_type, query in queries:
                params = parse_qsl(query, keep_blank_values=True)
                started = time.perf_counter()
                bundle = await service.search(ctx=ctx, gate=gate, resource_type=resource_type, params=params)
                pages = 4 if "pages" in label else 1
                for _ in range(pages - 1):
                    following = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
                    if following is None:
                        break
                    params = parse_qsl(urlsplit(following).query)
                    bundle = await service.search(
                        ctx=ctx, gate=gate, resource_type=resource_type, params=params
                    )
                latencies.append(time.perf_counter() - started)
                hits += len(bundle.get("entry", []))
            print(
                f"{label:<46} {percentile(latencies, 0.5) * 1000:8.1f} "
                f"{percentile(latencies, 0.95) * 1000:8.1f} {hits / len(queries):6.1f}"
            )
    finally:
        await client.drop_database(name)
        await client.close()
        if embedded is not None:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["synthea-2021", "synthea-2019"])
    parser.add_argument("--bundles", type=int, default=100, help="patient bundles per set (default: all)")
    parser.add_argument("--runs", type=int, default=30, help="samples per query")
    args = parser.parse_args()
    random.seed(7)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
