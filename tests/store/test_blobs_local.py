"""Local-directory specifics of the blob store: layout, permissions, factory, readiness."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fhir_server.settings import Settings
from fhir_server.store.blob_local import INCOMING_DIR, LocalBlobStore
from fhir_server.store.blobs import open_blob_store
from tests.store.blob_fixtures import MIB, chunked, local_contents, read_all, sample


async def test_open_blob_store_defaults_to_a_directory_under_data_dir(tmp_path: Path) -> None:
    store = open_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore)
    data = sample("sample.dcm")
    stored = await store.put(chunks=chunked(data), content_type="application/dicom", max_bytes=MIB)
    path = tmp_path / "blobs" / stored.key[:2] / stored.key
    assert path.read_bytes() == data
    assert await read_all(await store.open(stored.key)) == data
    await store.close()


async def test_blobs_are_private_to_the_server(tmp_path: Path) -> None:
    store = LocalBlobStore(root=tmp_path / "blobs")
    stored = await store.put(
        chunks=chunked(sample("sample.pdf")), content_type="application/pdf", max_bytes=MIB
    )
    path = tmp_path / "blobs" / stored.key[:2] / stored.key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert local_contents(tmp_path / "blobs") == [f"{stored.key[:2]}/{stored.key}"]
    assert list((tmp_path / "blobs" / INCOMING_DIR).iterdir()) == []


async def test_presigned_url_is_none(tmp_path: Path) -> None:
    store = LocalBlobStore(root=tmp_path)
    assert store.presigned_url("0" * 32, content_type="image/png") is None


async def test_ping_creates_the_directory_and_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(root=tmp_path / "not-yet" / "blobs")
    await store.ping()
    assert (tmp_path / "not-yet" / "blobs").is_dir()
    assert local_contents(tmp_path / "not-yet" / "blobs") == []


async def test_ping_fails_when_the_root_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "blobs").write_bytes(b"a file where the directory should be")
    with pytest.raises(OSError):
        await LocalBlobStore(root=tmp_path / "blobs").ping()
