"""``fhir-server duplicate-identifiers`` lists what to merge before an identifier system is unique."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from fhir_server.cli import main
from fhir_server.settings import get_settings
from tests.conftest import AppFactory
from tests.support import client_for, unique

MRN = "http://clinic.example.org/fhir/sid/mrn"


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, mongo_uri: str, tmp_path: Path) -> str:
    name = f"test_{unique('dup').replace('-', '_')}"
    monkeypatch.setenv("FHIR_MONGODB_URI", mongo_uri)
    monkeypatch.setenv("FHIR_DATABASE_NAME", name)
    monkeypatch.setenv("FHIR_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    return name


async def test_duplicates_are_listed_with_their_holders(
    app_factory: AppFactory, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Written before the system was declared unique: two patients share an MRN.
    app = await app_factory(database_name=database, unique_identifiers="{}")
    ids = []
    async with client_for(app) as http:
        for value in ("A-1", "A-1", "B-2"):
            body = {
                "resourceType": "Patient",
                "identifier": [{"system": MRN, "value": value}],
                "name": [{"family": "Dup"}],
                "gender": "other",
            }
            created = await http.post("/Patient", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
    assert os.environ["FHIR_DATABASE_NAME"] == database
    assert await _run(["duplicate-identifiers"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"Patient {MRN}|A-1: {', '.join(sorted(ids[:2]))}"]
    assert await _run(["duplicate-identifiers", "--type", "Patient", "--system", "urn:other"]) == 0
    assert capsys.readouterr().out == ""


async def _run(argv: list[str]) -> int:
    # The command runs its own event loop (as from a shell): in a thread, beside the test's loop.
    return await asyncio.to_thread(main, argv)
