"""One secured app for the bulk tests (authorization on, fast job polling) with three Synthea
patients. Tests may add data; none deletes any."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from fhir_server.main import create_app
from tests.bulk.helpers import load, small_patient_files
from tests.security.tokens import bearer, mint
from tests.support import client_for, make_settings

EXPORTER = "system/*.rs"


@dataclass
class Loaded:
    app: FastAPI
    http: httpx.AsyncClient  # no token of its own: tests pass headers
    patients: list[str]  # the three Synthea patients' ids

    def token(self, scope: str = EXPORTER, *, patient: str | None = None) -> dict[str, str]:
        return bearer(mint(self.app, scope, patient=patient))


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def loaded(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Loaded]:
    data_dir: Path = tmp_path_factory.mktemp("bulk")
    settings = make_settings(
        mongo_uri,
        data_dir,
        auth_enabled=True,
        job_poll_seconds=0.1,
        bulk_export_file_resources=25,  # several files per big type: the checkpoints are exercised
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_for(app) as http:
        writer = bearer(mint(app, "system/*.cruds"))
        patients = await load(http, small_patient_files(), writer)
        yield Loaded(app, http, patients)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        await client.drop_database(settings.database_name)
    finally:
        await client.close()
