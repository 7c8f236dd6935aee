"""S3-specific behaviour of the blob store, against moto's S3 over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from fhir_server.settings import Settings
from fhir_server.store.blob_s3 import S3BlobStore
from fhir_server.store.blobs import open_blob_store
from tests.store.blob_fixtures import (
    MIB,
    TEST_PREFIX,
    GeneratedStream,
    MotoS3,
    chunked,
    digest,
    make_s3_store,
    read_all,
    running_moto_server,
    s3_contents,
    sample,
)


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    with running_moto_server() as moto:
        yield moto


@pytest.fixture(scope="module")
def bucket(moto_s3: MotoS3) -> str:
    return moto_s3.new_bucket()


@pytest.fixture(scope="module")
async def store(moto_s3: MotoS3, bucket: str) -> AsyncIterator[S3BlobStore]:
    s3_store = make_s3_store(moto_s3, bucket)
    yield s3_store
    await s3_store.close()


async def test_presigned_url_points_at_the_object_and_serves_its_bytes(
    store: S3BlobStore, moto_s3: MotoS3, bucket: str
) -> None:
    data = sample("sample.pdf")
    stored = await store.put(chunks=chunked(data), content_type="application/pdf", max_bytes=MIB)
    url = store.presigned_url(stored.key, content_type=stored.content_type, download_name="../Lab report.pdf")
    assert url is not None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == moto_s3.endpoint_url
    assert parts.path == f"/{bucket}/{TEST_PREFIX}{stored.key}"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["application/pdf"]
    assert query["response-content-disposition"] == ['attachment; filename="Lab report.pdf"']
    assert len(query["X-Amz-Signature"][0]) == 64
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"


async def test_presigned_url_expiry_is_configurable(store: S3BlobStore) -> None:
    url = store.presigned_url("0" * 32, content_type="image/png", expires=60)
    assert url is not None
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["60"]
    assert "response-content-disposition" not in parse_qs(urlsplit(url).query)


async def test_big_objects_use_multipart_and_keep_the_content_type(
    store: S3BlobStore, moto_s3: MotoS3, bucket: str
) -> None:
    upload = GeneratedStream(total=17 * MIB)
    stored = await store.put(chunks=upload.chunks(), content_type="application/pdf", max_bytes=20 * MIB)
    head = moto_s3.client.head_object(Bucket=bucket, Key=TEST_PREFIX + stored.key)
    assert head["ETag"].strip('"').endswith("-3")  # three parts of at most 8 MiB
    assert head["ContentType"] == "application/pdf"
    assert head["ContentLength"] == 17 * MIB
    assert await digest(await store.open(stored.key)) == (17 * MIB, upload.sha1.digest())
    assert moto_s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    await store.delete(stored.key)


async def test_small_objects_are_one_put(store: S3BlobStore, moto_s3: MotoS3, bucket: str) -> None:
    stored = await store.put(
        chunks=chunked(sample("sample.txt"), 5), content_type="text/plain", max_bytes=MIB
    )
    head = moto_s3.client.head_object(Bucket=bucket, Key=TEST_PREFIX + stored.key)
    assert "-" not in head["ETag"]
    assert head["ContentType"] == "text/plain"
    await store.delete(stored.key)


async def test_ping_fails_on_a_missing_bucket(moto_s3: MotoS3) -> None:
    missing = S3BlobStore(bucket="no-such-bucket-here", endpoint_url=moto_s3.endpoint_url)
    with pytest.raises(ClientError):
        await missing.ping()
    await missing.close()


async def test_open_blob_store_builds_an_s3_store_from_settings(
    moto_s3: MotoS3, bucket: str, tmp_path: Path
) -> None:
    settings = Settings(
        blob_store="s3",
        s3_bucket=bucket,
        s3_prefix="from-settings/",
        s3_endpoint_url=moto_s3.endpoint_url,
        data_dir=tmp_path,
    )
    store = open_blob_store(settings)
    assert isinstance(store, S3BlobStore)
    await store.ping()
    stored = await store.put(chunks=chunked(sample("sample.png")), content_type="image/png", max_bytes=MIB)
    assert f"from-settings/{stored.key}" in s3_contents(moto_s3, bucket)
    assert await read_all(await store.open(stored.key)) == sample("sample.png")
    await store.delete(stored.key)
    await store.close()
    assert not (tmp_path / "blobs").exists()


def test_s3_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FHIR_S3_BUCKET"):
        open_blob_store(Settings(blob_store="s3", s3_bucket=None, data_dir=tmp_path))
