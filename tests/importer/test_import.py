"""``fhir-server import``: real Synthea bundles, re-import, NDJSON, and failures naming file and entry."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.audit.vocabulary import DATA_OPERATION
from fhir_server.cli import main
from fhir_server.importer.cli import import_files, plan
from fhir_server.jsonio import dump_json
from fhir_server.settings import Settings, get_settings
from fhir_server.store import documents as f
from fhir_server.store.mongo import make_client
from tests.support import make_settings

Document = dict[str, Any]
PATIENT = "Patient/nd-1"
_LEFTOVER = re.compile(r'"reference":"(urn:uuid:[^"]*|[A-Za-z]+\?identifier=[^"]*)"')


_CONDITIONAL_REFERENCE = re.compile(rb'"reference": ?"([A-Za-z]+)\?identifier=([^"|]*)\|([^"]*)"')
_BATCH_SAMPLE = 40  # besides the referenced ones, this many entries of each batch bundle


def _identifier_values(resource: dict[str, Any]) -> set[str]:
    return {str(identifier.get("value")) for identifier in resource.get("identifier", [])}


def _trimmed_batch(path: Path, referenced: set[str], target: Path) -> Counter[str]:
    """A copy of a Synthea batch bundle holding the entries the chosen patients reference (by
    identifier, directly or via their practitioner) and a sample; returns its count per type."""
    bundle = orjson.loads(gzip.decompress(path.read_bytes()))
    kept = []
    for position, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        practitioner = resource.get("practitioner", {}).get("identifier", {}).get("value")
        if (
            position < _BATCH_SAMPLE
            or _identifier_values(resource) & referenced
            or practitioner in referenced
        ):
            kept.append(entry)
    bundle["entry"] = kept
    target.write_bytes(gzip.compress(orjson.dumps(bundle)))
    return Counter(entry["resource"]["resourceType"] for entry in kept)


def _synthea_sample(shared_dir: Path, tmp_path: Path) -> tuple[list[Path], list[Path], Counter[str]]:
    """The two smallest Synthea 2021 patient transactions and the hospital and practitioner batch
    bundles trimmed to what they reference (the full data set is the benchmark's job), with the
    counts per type they declare."""
    folder = shared_dir / "data" / "synthea-2021"
    index = orjson.loads((folder / "index.json").read_bytes())
    patients = sorted((i for i in index if i["bundleType"] == "transaction"), key=lambda i: i["entries"])[:2]
    expected: Counter[str] = Counter()
    referenced: set[str] = set()
    for item in patients:
        expected.update(item["resourceCounts"])
        content = gzip.decompress((folder / item["file"]).read_bytes())
        referenced.update(match[2].decode() for match in _CONDITIONAL_REFERENCE.findall(content))
    batches = []
    for item in (i for i in index if i["bundleType"] == "batch"):
        target = tmp_path / item["file"]
        expected.update(_trimmed_batch(folder / item["file"], referenced, target))
        batches.append(target)
    return batches, [folder / item["file"] for item in patients], expected


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    return make_settings(mongo_uri, tmp_path)


@pytest_asyncio.fixture(loop_scope="session")
async def database(mongo_uri: str, settings: Settings) -> AsyncIterator[AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = make_client(mongo_uri)  # the server's codecs (Decimal128)
    try:
        yield client[settings.database_name]
    finally:
        await client.drop_database(settings.database_name)
        await client.close()


async def _counts(db: AsyncDatabase[Document]) -> Counter[str]:
    counts: Counter[str] = Counter()
    prefix = f.resource_collection_name("")
    for name in await db.list_collection_names():
        # The audit trail records every run (a re-run included): its AuditEvents and the server's
        # Provenance (a data-operation activity) are not imported records.
        query: Document = {f.DELETED: {"$ne": True}}
        if name == prefix + "Provenance":
            query[f"{f.RESOURCE}.activity.coding.system"] = {"$ne": DATA_OPERATION}
        if name.startswith(prefix) and name != prefix + "AuditEvent":
            counts[name[len(prefix) :]] = await db[name].count_documents(query)
    return +counts


async def _leftover_references(db: AsyncDatabase[Document]) -> list[str]:
    leftovers: list[str] = []
    prefix = f.resource_collection_name("")
    for name in await db.list_collection_names():
        if name.startswith(prefix):
            async for doc in db[name].find({}, {f.RESOURCE: 1}):
                leftovers.extend(_LEFTOVER.findall(dump_json(doc[f.RESOURCE]).decode()))
    return leftovers


async def test_synthea_bundles_load_completely_and_reimport_changes_nothing(
    shared_dir: Path, tmp_path: Path, settings: Settings, database: AsyncDatabase[Document]
) -> None:
    batches, patients, expected = _synthea_sample(shared_dir, tmp_path)
    units = plan(patients + batches)
    assert [unit.kind for unit in units] == ["batch", "batch", "transaction", "transaction"]

    report = await import_files(settings, units, workers=2)  # two files at a time: the pool at work
    assert report.failures == []
    counts = await _counts(database)
    # DocumentReference attachments move to the blob store as Binary resources: not in the bundles.
    assert counts - Counter({"Binary": counts["Binary"]}) == expected
    assert counts["Binary"] == expected["DocumentReference"]
    assert sum(report.created.values()) == sum(expected.values())
    assert await _leftover_references(database) == []

    again = await import_files(settings, plan(batches))
    assert again.failures == []
    assert sum(again.created.values()) == 0
    assert await _counts(database) == counts


async def test_keeping_ids_makes_transactions_idempotent(
    shared_dir: Path, settings: Settings, database: AsyncDatabase[Document]
) -> None:
    folder = shared_dir / "data" / "synthea-2019"
    index = orjson.loads((folder / "index.json").read_bytes())
    smallest = min(index, key=lambda item: item["entries"])
    units = plan([folder / smallest["file"]])
    first = await import_files(settings, units, ids="stable")
    assert first.failures == []
    assert first.created == Counter(smallest["resourceCounts"])
    patient_id = smallest["patientId"]
    assert await database[f.resource_collection_name("Patient")].count_documents({f.ID: patient_id}) == 1
    again = await import_files(settings, units, ids="stable")
    assert sum(again.created.values()) == 0
    assert await _counts(database) == Counter(smallest["resourceCounts"])


async def test_ndjson_puts_resources_with_ids_and_posts_the_others(
    tmp_path: Path, settings: Settings, database: AsyncDatabase[Document]
) -> None:
    lines = [
        {"resourceType": "Patient", "id": "nd-1", "gender": "male"},
        {"resourceType": "Patient", "gender": "female"},
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": PATIENT},
        },
    ]
    path = tmp_path / "resources.ndjson.gz"
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(line) for line in lines) + b"\n\n"))
    report = await import_files(settings, plan([path]), chunk=2)
    assert report.failures == []
    assert report.created == Counter({"Patient": 2, "Observation": 1})
    assert await database[f.resource_collection_name("Patient")].count_documents({f.ID: "nd-1"}) == 1
    observation = await database[f.resource_collection_name("Observation")].find_one({})
    assert observation is not None and observation[f.RESOURCE]["subject"]["reference"] == PATIENT

    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(
        orjson.dumps(lines[0]) + b"\n" + orjson.dumps({"resourceType": "Patient", "gender": 7})
    )
    failed = await import_files(settings, plan([broken]))
    assert [(failure.path, failure.where) for failure in failed.failures] == [(broken, "line 2")]


@pytest.fixture
def cli_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Settings]:
    monkeypatch.setenv("FHIR_MONGODB_URI", str(settings.mongodb_uri))
    monkeypatch.setenv("FHIR_DATABASE_NAME", settings.database_name)
    monkeypatch.setenv("FHIR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FHIR_BASE_URL", settings.base_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_a_broken_file_exits_non_zero_naming_file_and_entry(
    tmp_path: Path, cli_environment: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {"fullUrl": "urn:uuid:0b4b3a5c-0000-4000-8000-000000000001",
            "resource": {"resourceType": "Patient", "gender": "male"},
            "request": {"method": "POST", "url": "Patient"}}  # fmt: skip
    bad = {"fullUrl": "urn:uuid:0b4b3a5c-0000-4000-8000-000000000002",
           "resource": {"resourceType": "Patient", "birthDate": "yesterday"},
           "request": {"method": "POST", "url": "Patient"}}  # fmt: skip
    path = tmp_path / "broken.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [good, bad]}))
    status = main(["import", "--no-progress", str(path)])
    captured = capsys.readouterr()
    assert status == 1
    assert str(path) in captured.err
    assert "entry 1 (urn:uuid:0b4b3a5c-0000-4000-8000-000000000002)" in captured.err
    assert "0 resources" in captured.out
