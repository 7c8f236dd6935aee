"""The blob sweeper: bytes no Binary names (a write that never committed) are deleted once old
enough; bytes any version of a Binary names, and fresh bytes a write may still commit, are kept.
On the local store and on S3 (moto's server), through the real app."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI

from fhir_server.cli import main
from fhir_server.documents.blob_ref import blob_ref_of
from fhir_server.documents.sweeper import BlobSweeper, open_inventory, sweep_blobs
from fhir_server.settings import get_settings
from fhir_server.store.blob_local import INCOMING_DIR
from tests.conftest import AppFactory
from tests.documents.helpers import BASE, upload_sample
from tests.store.blob_fixtures import MotoS3, chunked, running_moto_server, s3_contents, sample
from tests.support import client_for

HOUR = timedelta(hours=1)


@dataclass
class Store:
    app: FastAPI
    kind: str
    moto: MotoS3 | None = None
    bucket: str | None = None

    def holds(self, key: str) -> bool:
        if self.moto is not None:
            return f"blobs/{key}" in s3_contents(self.moto, str(self.bucket))
        root: Path = self.app.state.settings.data_dir / "blobs"
        return (root / key[:2] / key).exists()

    def leave_unfinished_upload(self) -> None:
        if self.moto is not None:
            self.moto.client.create_multipart_upload(Bucket=str(self.bucket), Key="blobs/" + "0" * 32)
            return
        incoming = self.app.state.settings.data_dir / "blobs" / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        (incoming / f"{'1' * 32}.part").write_bytes(b"half a clinical note")

    def unfinished_uploads(self) -> int:
        if self.moto is not None:
            uploads = self.moto.client.list_multipart_uploads(Bucket=str(self.bucket)).get("Uploads", [])
            return len(uploads)
        incoming = self.app.state.settings.data_dir / "blobs" / INCOMING_DIR
        return len(list(incoming.glob("*.part")))


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    with running_moto_server() as moto:
        yield moto


@pytest_asyncio.fixture(loop_scope="session", params=["local", "s3"])
async def store(request: pytest.FixtureRequest, app_factory: AppFactory) -> AsyncIterator[Store]:
    if request.param == "local":
        yield Store(await app_factory(), "local")
        return
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    bucket = moto.new_bucket()
    app = await app_factory(blob_store="s3", s3_bucket=bucket, s3_endpoint_url=moto.endpoint_url)
    yield Store(app, "s3", moto, bucket)


def _key(binary: dict[str, Any]) -> str:
    ref = blob_ref_of(binary)
    assert ref is not None
    return ref.key


async def _stored_binary(app: FastAPI, binary_id: str) -> dict[str, Any]:
    doc = await app.state.db["resources.Binary"].find_one({"_id": binary_id})
    assert doc is not None
    resource: dict[str, Any] = doc["res"]
    return resource


async def test_old_blobs_no_binary_names_are_swept_and_named_ones_kept(store: Store) -> None:
    app = store.app
    async with client_for(app) as client:
        created = await upload_sample(client, "sample.pdf", "application/pdf")
        first_key = _key(await _stored_binary(app, created["id"]))
        replaced = await client.put(
            f"{BASE}/Binary/{created['id']}",
            content=sample("sample.png"),
            headers={"Content-Type": "image/png"},
        )
        assert replaced.status_code == 200, replaced.text
        current_key = _key(await _stored_binary(app, created["id"]))
        # Bytes whose write never committed: stored, and no Binary names them.
        orphan = await app.state.blob_store.put(
            chunks=chunked(sample("sample.txt")), content_type="text/plain", max_bytes=10_000_000
        )

        def sweep(now: datetime) -> Any:
            return sweep_blobs(
                db=app.state.db,
                blob_store=app.state.blob_store,
                inventory=open_inventory(app.state.settings),
                min_age=HOUR,
                now=now,
            )

        fresh = await sweep(datetime.now(UTC))  # everything is minutes old: a write may still commit
        assert (fresh.deleted, fresh.kept) == (0, 0)
        assert store.holds(orphan.key)
        store.leave_unfinished_upload()  # after: moto dates every multipart upload 2010

        later = await sweep(datetime.now(UTC) + 2 * HOUR)
        assert (later.deleted, later.unfinished, later.kept) == (1, 1, 2)
        assert not store.holds(orphan.key)
        assert store.unfinished_uploads() == 0
        assert store.holds(first_key) and store.holds(current_key)
        old_version = await client.get(f"{BASE}/Binary/{created['id']}/_history/1")
        assert old_version.status_code == 200
        assert (await client.get(f"{BASE}/Binary/{created['id']}")).content == sample("sample.png")


async def test_one_sweep_per_interval_across_processes(app_factory: AppFactory) -> None:
    app = await app_factory(blob_sweep_interval=600)
    sweepers = [
        BlobSweeper(settings=app.state.settings, db=app.state.db, blob_store=app.state.blob_store)
        for _ in range(3)
    ]
    results = await asyncio.gather(*(sweeper.run_once() for sweeper in sweepers))
    assert sum(result is not None for result in results) == 1


def test_the_sweep_command_deletes_old_unnamed_bytes(
    mongo_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FHIR_MONGODB_URI", mongo_uri)
    monkeypatch.setenv("FHIR_DATABASE_NAME", f"test_{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("FHIR_DATA_DIR", str(tmp_path))
    key = uuid.uuid4().hex
    orphan = tmp_path / "blobs" / key[:2] / key
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"a note whose write never committed")
    two_hours_ago = time.time() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    get_settings.cache_clear()
    try:
        assert main(["sweep-blobs", "--min-age", "30"]) == 2
        assert orphan.exists()
        assert main(["sweep-blobs", "--min-age", "3600"]) == 0
    finally:
        get_settings.cache_clear()
    assert not orphan.exists()
    assert "deleted 1 blobs no Binary names" in capsys.readouterr().out
