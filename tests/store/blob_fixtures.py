"""Helpers for the blob store tests: a real S3-protocol server (moto, on 127.0.0.1), stores under
test with a way to list what they hold, chunk generators and the sample files."""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import boto3
import pytest
from moto.server import ThreadedMotoServer

from fhir_server.store.blob_local import LocalBlobStore
from fhir_server.store.blob_s3 import S3BlobStore
from fhir_server.store.blobs import BlobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SAMPLES_DIR: Final = Path(__file__).resolve().parents[1] / "fixtures" / "files"
MIB: Final = 1024 * 1024
TEST_PREFIX: Final = "blobs/"


def sample(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


async def chunked(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


@dataclass
class GeneratedStream:
    """Pseudo-random bytes produced chunk by chunk, hashed on the way; never held whole."""

    total: int
    head: bytes = b"%PDF-1.7\n"
    chunk_size: int = 256 * 1024
    seed: int = 7

    def __post_init__(self) -> None:
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.produced = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        rng = random.Random(self.seed)
        remaining = self.total
        first = True
        while remaining > 0:
            size = min(self.chunk_size, remaining)
            chunk = (self.head + rng.randbytes(size - len(self.head))) if first else rng.randbytes(size)
            first = False
            self.sha1.update(chunk)
            self.produced += len(chunk)
            remaining -= size
            yield chunk


async def digest(stream: AsyncIterator[bytes]) -> tuple[int, bytes]:
    sha1 = hashlib.sha1(usedforsecurity=False)
    size = 0
    async for chunk in stream:
        sha1.update(chunk)
        size += len(chunk)
    return size, sha1.digest()


async def read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


@dataclass
class MotoS3:
    endpoint_url: str
    client: S3Client

    def new_bucket(self) -> str:
        name = f"test-{secrets.token_hex(6)}"
        self.client.create_bucket(Bucket=name)
        return name


@contextmanager
def running_moto_server() -> Iterator[MotoS3]:
    """moto's S3 on a free port of 127.0.0.1, with dummy credentials in the standard AWS variables."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        # Keep a developer's own AWS configuration out of the tests.
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint_url = f"http://{host}:{port}"
        client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
        try:
            yield MotoS3(endpoint_url=endpoint_url, client=client)
        finally:
            client.close()
            server.stop()


def make_s3_store(moto: MotoS3, bucket: str, *, part_bytes: int = 8 * MIB) -> S3BlobStore:
    return S3BlobStore(
        bucket=bucket, prefix=TEST_PREFIX, endpoint_url=moto.endpoint_url, part_bytes=part_bytes
    )


def s3_contents(moto: MotoS3, bucket: str) -> list[str]:
    """Every object key and pending multipart upload in the bucket."""
    objects = moto.client.list_objects_v2(Bucket=bucket).get("Contents", [])
    uploads = moto.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [item["Key"] for item in objects] + [f"upload:{item['Key']}" for item in uploads]


def local_contents(root: Path) -> list[str]:
    """Every file under the store's root (temporary files included)."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


@dataclass
class StoreUnderTest:
    name: str
    store: BlobStore
    contents: Callable[[], list[str]]
    stored_key: Callable[[str], str]  # where a blob key shows up in `contents()`
    finish: Callable[[], Awaitable[None]]


def local_store_under_test(root: Path) -> StoreUnderTest:
    store = LocalBlobStore(root=root)
    return StoreUnderTest(
        name="local",
        store=store,
        contents=lambda: local_contents(root),
        stored_key=lambda key: f"{key[:2]}/{key}",
        finish=store.close,
    )


def empty_bucket(moto: MotoS3, bucket: str) -> None:
    for item in moto.client.list_objects_v2(Bucket=bucket).get("Contents", []):
        moto.client.delete_object(Bucket=bucket, Key=item["Key"])
    for upload in moto.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        moto.client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def s3_store_under_test(moto: MotoS3, store: S3BlobStore, bucket: str) -> StoreUnderTest:
    """A store shared by the tests of a module (clients are slow to make); emptied after each test."""

    async def finish() -> None:
        empty_bucket(moto, bucket)

    return StoreUnderTest(
        name="s3",
        store=store,
        contents=lambda: s3_contents(moto, bucket),
        stored_key=lambda key: TEST_PREFIX + key,
        finish=finish,
    )
