"""Restartable import: ``kill -9`` of an import and running it again stores nothing twice; files
that would expand without bound are refused with a clear message, in bounded memory."""

from __future__ import annotations

import asyncio
import gzip
import signal
import subprocess
import sys
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.cli import main
from fhir_server.importer.cli import import_files, plan
from fhir_server.importer.clinic import load_clinic_file
from fhir_server.importer.sources import ReadLimits, SourceError
from fhir_server.settings import Settings, get_settings
from fhir_server.store import documents as f
from tests.importer.test_clinic_import import EXAMPLE, EXPECTED, _import, _stored
from tests.support import make_settings

Document = dict[str, Any]
MRN = "http://clinic.example.org/mrn"
PATIENTS = 400
CHUNK = 20


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    return make_settings(mongo_uri, tmp_path)


@pytest_asyncio.fixture(loop_scope="session")
async def database(mongo_uri: str, settings: Settings) -> AsyncIterator[AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[settings.database_name]
    finally:
        await client.drop_database(settings.database_name)
        await client.close()


def _patients_ndjson(path: Path) -> None:
    lines = (
        orjson.dumps({"resourceType": "Patient", "identifier": [{"system": MRN, "value": f"MRN-{n:05d}"}]})
        for n in range(PATIENTS)
    )
    path.write_bytes(b"\n".join(lines) + b"\n")


def _import_command(settings: Settings, path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fhir_server.cli",
        "import",
        "--no-progress",
        "--chunk",
        str(CHUNK),
        str(path),
    ]


def _environment(settings: Settings) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "FHIR_MONGODB_URI": str(settings.mongodb_uri),
        "FHIR_DATABASE_NAME": settings.database_name,
        "FHIR_DATA_DIR": str(settings.data_dir),
        "FHIR_LOG_LEVEL": "WARNING",
    }


async def test_an_import_killed_midway_and_run_again_stores_each_resource_once(
    tmp_path: Path, settings: Settings, database: AsyncDatabase[Document]
) -> None:
    source = tmp_path / "patients.ndjson"
    _patients_ndjson(source)
    patients = database[f.resource_collection_name("Patient")]
    first = await asyncio.create_subprocess_exec(
        *_import_command(settings, source),
        env=_environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(6000):  # until two of its transactions committed (2 minutes at most)
            if await patients.count_documents({}) >= 2 * CHUNK:
                break
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
    finally:
        await first.wait()
    committed = await patients.count_documents({})
    assert 2 * CHUNK <= committed < PATIENTS, "killed in the middle"

    again = await asyncio.to_thread(
        subprocess.run,
        _import_command(settings, source),
        env=_environment(settings),
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    assert await patients.count_documents({}) == PATIENTS
    mrns = [doc[f.RESOURCE]["identifier"][0]["value"] async for doc in patients.find({}, {f.RESOURCE: 1})]
    assert len(set(mrns)) == len(mrns) == PATIENTS
    # What the first run committed is found again, unchanged: still version 1.
    assert await patients.count_documents({f.VERSION: {"$ne": 1}}) == 0


async def test_importing_a_transaction_bundle_again_creates_nothing(
    tmp_path: Path, settings: Settings, database: AsyncDatabase[Document]
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:7d4ab0d6-2a2c-4c3e-8a45-9a0e8c1f0001",
             "resource": {"resourceType": "Patient", "gender": "male"},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "http://example.org/fhir/Observation/obs-1",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
                          "subject": {"reference": "urn:uuid:7d4ab0d6-2a2c-4c3e-8a45-9a0e8c1f0001"}},
             "request": {"method": "POST", "url": "Observation"}},
            {"resource": {"resourceType": "DocumentReference", "status": "current",
                          "subject": {"reference": "urn:uuid:7d4ab0d6-2a2c-4c3e-8a45-9a0e8c1f0001"},
                          "content": [{"attachment": {"contentType": "text/plain",
                                                      "data": "aGVsbG8gZG9jdG9y"}}]},
             "request": {"method": "POST", "url": "DocumentReference"}},
        ],
    }  # fmt: skip
    path = tmp_path / "visit.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps(bundle)))
    first = await import_files(settings, plan([path]))
    assert first.failures == []
    assert first.created == Counter(Patient=1, Observation=1, DocumentReference=1)
    again = await import_files(settings, plan([path]))
    assert again.failures == []
    assert sum(again.created.values()) == 0
    assert again.existing == first.created
    counts = {
        name: await database[f.resource_collection_name(name)].count_documents({})
        for name in ("Patient", "Observation", "DocumentReference", "Binary")
    }
    assert counts == {"Patient": 1, "Observation": 1, "DocumentReference": 1, "Binary": 1}
    patient = await database[f.resource_collection_name("Patient")].find_one({})
    assert patient is not None and patient[f.ID] == "7d4ab0d6-2a2c-4c3e-8a45-9a0e8c1f0001"
    document = await database[f.resource_collection_name("DocumentReference")].find_one({})
    assert document is not None and document[f.VERSION] == 1
    attachment = document[f.RESOURCE]["content"][0]["attachment"]
    assert attachment["url"].startswith("Binary/") and "data" not in attachment
    assert attachment["size"] == len(b"hello doctor")


async def test_import_clinic_run_twice_stores_each_record_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    export = load_clinic_file(EXAMPLE, currency="USD")
    first = await _import(app, export)
    assert first.created == EXPECTED
    stored = await _stored(app.state.db)
    again = await _import(app, export)
    assert sum(again.created.values()) == 0
    assert again.existing == EXPECTED
    after = await _stored(app.state.db)
    assert Counter(item["resourceType"] for item in after) == EXPECTED + Counter(Binary=3)
    assert {item["meta"]["versionId"] for item in after} == {"1"}  # the second run changed nothing
    assert sorted(orjson.dumps(item) for item in after) == sorted(orjson.dumps(item) for item in stored)


def _bomb(path: Path, expanded: int) -> None:
    """A small .json.gz holding a Bundle that decompresses to ``expanded`` bytes."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b'{"resourceType": "Bundle", "type": "batch", "entry": [')
        block = b" " * (1024 * 1024)
        for _ in range(expanded // len(block)):
            out.write(block)
        out.write(b"]}")


def test_a_bundle_that_decompresses_past_the_limit_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.json.gz"
    _bomb(path, 200 * 1024 * 1024)
    assert path.stat().st_size < 1024 * 1024
    limit = 4 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=r"larger than 4,194,304 bytes \(FHIR_BUNDLE_MAX_BYTES"):
            plan([path], ReadLimits(bundle_bytes=limit))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * limit


def test_the_command_names_the_file_and_the_limit_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.json.gz"
    _bomb(path, 8 * 1024 * 1024)
    monkeypatch.setenv("FHIR_BUNDLE_MAX_BYTES", str(1024 * 1024))
    monkeypatch.setenv("FHIR_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        assert main(["import", str(path)]) == 2
    finally:
        get_settings.cache_clear()
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"import failed: {path}: the decompressed bundle is larger than 1,048,576 bytes")
    assert "Traceback" not in error


def test_an_ndjson_line_past_the_limit_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"resourceType": "Patient"}\n' + b"{" + b" " * 3_000_000 + b"}\n"))
    with pytest.raises(SourceError, match="line 2 is larger than 1,000,000 bytes"):
        plan([path], ReadLimits(line_bytes=1_000_000))
