"""The contract every blob store keeps, checked on the local directory and on S3 (moto over HTTP)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from fhir_server.errors import BadRequest, FhirError, NotFound, PayloadTooLarge, UnsupportedMediaType
from fhir_server.store.blob_s3 import S3BlobStore
from fhir_server.store.blobs import RangeNotSatisfiable
from fhir_server.store.sniff import Purpose
from tests.store.blob_fixtures import (
    MIB,
    GeneratedStream,
    MotoS3,
    StoreUnderTest,
    chunked,
    digest,
    local_store_under_test,
    make_s3_store,
    read_all,
    running_moto_server,
    s3_store_under_test,
    sample,
)


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    with running_moto_server() as moto:
        yield moto


@pytest.fixture(scope="module")
async def shared_s3_store(moto_s3: MotoS3) -> AsyncIterator[tuple[S3BlobStore, str]]:
    bucket = moto_s3.new_bucket()
    store = make_s3_store(moto_s3, bucket)
    yield store, bucket
    await store.close()


@pytest.fixture(params=["local", "s3"])
async def subject(
    request: pytest.FixtureRequest, tmp_path: Path, moto_s3: MotoS3, shared_s3_store: tuple[S3BlobStore, str]
) -> AsyncIterator[StoreUnderTest]:
    if request.param == "local":
        under_test = local_store_under_test(tmp_path / "blobs")
    else:
        under_test = s3_store_under_test(moto_s3, *shared_s3_store)
    yield under_test
    await under_test.finish()


ACCEPTED: list[tuple[str, str, Purpose | None, str]] = [
    # file, declared Content-Type, purpose, canonical type stored
    ("sample.pdf", "application/pdf", "document", "application/pdf"),
    ("sample.txt", "text/plain; charset=utf-8", "document", "text/plain"),
    ("sample.jpg", "image/jpeg", "document", "image/jpeg"),
    ("sample.png", "image/png", "document", "image/png"),
    ("sample.tiff", "image/tiff", "document", "image/tiff"),
    ("sample.dcm", "application/dicom", "document", "application/dicom"),
    ("sample.json", "application/fhir+json", "document", "application/fhir+json"),
    ("sample.jpg", "image/jpg", "image", "image/jpeg"),
    ("sample.png", "image/png", "image", "image/png"),
    ("sample.tiff", "image/tiff", "image", "image/tiff"),
    ("sample.dcm", "application/dicom", "image", "application/dicom"),
    ("sample.gif", "image/gif", "image", "image/gif"),
    ("sample.webp", "image/webp", "image", "image/webp"),
    ("sample.json", "application/json", None, "application/json"),
    ("sample.png", "application/octet-stream", None, "image/png"),
]


@pytest.mark.parametrize(("name", "declared", "purpose", "canonical"), ACCEPTED)
async def test_round_trip_keeps_exact_bytes(
    subject: StoreUnderTest, name: str, declared: str, purpose: Purpose | None, canonical: str
) -> None:
    data = sample(name)
    stored = await subject.store.put(
        chunks=chunked(data, 7), content_type=declared, max_bytes=MIB, purpose=purpose
    )
    assert stored.content_type == canonical
    assert stored.size == len(data)
    assert stored.sha1_base64 == base64.b64encode(hashlib.sha1(data).digest()).decode()
    assert await read_all(await subject.store.open(stored.key)) == data
    assert await subject.store.size(stored.key) == len(data)
    assert subject.contents() == [subject.stored_key(stored.key)]


async def test_twenty_megabytes_stream_through(subject: StoreUnderTest) -> None:
    upload = GeneratedStream(total=20 * MIB)
    stored = await subject.store.put(
        chunks=upload.chunks(), content_type="application/pdf", max_bytes=25 * MIB, purpose="document"
    )
    assert stored.size == upload.produced == 20 * MIB
    assert base64.b64decode(stored.sha1_base64) == upload.sha1.digest()
    assert await digest(await subject.store.open(stored.key)) == (20 * MIB, upload.sha1.digest())


async def test_size_limit_exceeded_leaves_nothing(subject: StoreUnderTest) -> None:
    # Past one S3 part, so the multipart path has to be aborted too.
    upload = GeneratedStream(total=12 * MIB)
    with pytest.raises(PayloadTooLarge):
        await subject.store.put(
            chunks=upload.chunks(), content_type="application/pdf", max_bytes=9 * MIB, purpose="document"
        )
    assert subject.contents() == []


async def test_limit_smaller_than_the_head_is_enforced(subject: StoreUnderTest) -> None:
    with pytest.raises(PayloadTooLarge):
        await subject.store.put(
            chunks=chunked(sample("sample.pdf")), content_type="application/pdf", max_bytes=100
        )
    assert subject.contents() == []


async def test_failing_source_leaves_nothing(subject: StoreUnderTest) -> None:
    async def breaks_midway() -> AsyncIterator[bytes]:
        async for chunk in GeneratedStream(total=10 * MIB).chunks():
            yield chunk
            if chunk[:4] != b"%PDF":
                raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await subject.store.put(chunks=breaks_midway(), content_type="application/pdf", max_bytes=20 * MIB)
    assert subject.contents() == []


async def test_cancelled_upload_leaves_nothing(subject: StoreUnderTest) -> None:
    with anyio.CancelScope() as scope:

        async def cancelled_after_a_part() -> AsyncIterator[bytes]:
            async for chunk in GeneratedStream(total=9 * MIB).chunks():
                yield chunk
            scope.cancel()
            await anyio.sleep_forever()
            yield b""  # pragma: no cover

        await subject.store.put(
            chunks=cancelled_after_a_part(), content_type="application/pdf", max_bytes=20 * MIB
        )
    assert scope.cancelled_caught
    assert subject.contents() == []


REFUSED: list[tuple[str, str, Purpose | None, type[FhirError]]] = [
    ("elf_renamed.pdf", "application/pdf", "document", UnsupportedMediaType),
    ("windows_program.jpg", "image/jpeg", "image", UnsupportedMediaType),
    ("archive_renamed.pdf", "application/pdf", None, UnsupportedMediaType),
    ("dicom_with_executable_preamble.dcm", "application/dicom", "image", UnsupportedMediaType),
    ("shell_script.txt", "text/plain", "document", UnsupportedMediaType),
    ("piped_download.txt", "text/plain", None, UnsupportedMediaType),
    ("page_with_script.txt", "text/plain", "document", UnsupportedMediaType),
    ("note_with_script.txt", "text/plain", "document", UnsupportedMediaType),
    ("powershell.txt", "text/plain", None, UnsupportedMediaType),
    ("image_with_script.svg", "image/svg+xml", "image", UnsupportedMediaType),
    ("sample.pdf", "application/pdf", "image", UnsupportedMediaType),  # not an image
    ("sample.png", "application/pdf", "document", BadRequest),  # a PNG declared as PDF
    ("sample.jpg", "image/png", "image", BadRequest),
    ("latin1_note.txt", "text/plain", "document", BadRequest),  # not UTF-8
]


@pytest.mark.parametrize(("name", "declared", "purpose", "error"), REFUSED)
async def test_disguised_or_refused_content_is_not_stored(
    subject: StoreUnderTest, name: str, declared: str, purpose: Purpose | None, error: type[FhirError]
) -> None:
    with pytest.raises(error) as raised:
        await subject.store.put(
            chunks=chunked(sample(name)), content_type=declared, max_bytes=MIB, purpose=purpose
        )
    assert type(raised.value) is error
    assert subject.contents() == []


async def test_script_after_the_head_is_refused(subject: StoreUnderTest) -> None:
    clean = ("Routine follow-up, nothing to report.\n" * 2000).encode()
    with pytest.raises(UnsupportedMediaType):
        await subject.store.put(
            chunks=chunked(clean + b"<script>alert(1)</script>\n", 1000),
            content_type="text/plain",
            max_bytes=MIB,
        )
    assert subject.contents() == []


async def test_invalid_utf8_after_the_head_is_refused(subject: StoreUnderTest) -> None:
    clean = ("Routine follow-up.\n" * 2000).encode()
    with pytest.raises(BadRequest):
        await subject.store.put(
            chunks=chunked(clean + b"\xff\xfe tail\n"), content_type="text/plain", max_bytes=MIB
        )
    assert subject.contents() == []


async def test_byte_ranges(subject: StoreUnderTest) -> None:
    upload = GeneratedStream(total=700 * 1024, chunk_size=100_000)
    data = b"".join([chunk async for chunk in GeneratedStream(total=700 * 1024, chunk_size=100_000).chunks()])
    stored = await subject.store.put(chunks=upload.chunks(), content_type="application/pdf", max_bytes=MIB)
    store = subject.store
    assert await read_all(await store.open(stored.key, start=10, end=19)) == data[10:20]
    assert await read_all(await store.open(stored.key, start=200_000, end=600_000)) == data[200_000:600_001]
    assert await read_all(await store.open(stored.key, start=len(data) - 5)) == data[-5:]
    assert await read_all(await store.open(stored.key, end=3)) == data[:4]
    assert await read_all(await store.open(stored.key, start=5, end=10 * MIB)) == data[5:]
    with pytest.raises(RangeNotSatisfiable) as raised:
        await store.open(stored.key, start=len(data))
    assert raised.value.status == 416
    assert raised.value.headers == {"Content-Range": f"bytes */{len(data)}"}
    with pytest.raises(RangeNotSatisfiable):
        await store.open(stored.key, start=20, end=10)


async def test_delete(subject: StoreUnderTest) -> None:
    stored = await subject.store.put(
        chunks=chunked(sample("sample.png")), content_type="image/png", max_bytes=MIB
    )
    await subject.store.delete(stored.key)
    assert subject.contents() == []
    with pytest.raises(NotFound):
        await subject.store.size(stored.key)
    with pytest.raises(NotFound):
        await subject.store.open(stored.key)
    await subject.store.delete(stored.key)  # idempotent


@pytest.mark.parametrize("key", ["0" * 32, "../../etc/passwd", "A" * 32, "", "0" * 31 + "/"])
async def test_unknown_or_malformed_keys_are_not_found(subject: StoreUnderTest, key: str) -> None:
    with pytest.raises(NotFound):
        await subject.store.open(key)
    with pytest.raises(NotFound):
        await subject.store.size(key)


async def test_keys_are_fresh_random_ids(subject: StoreUnderTest) -> None:
    first = await subject.store.put(
        chunks=chunked(sample("sample.gif")), content_type="image/gif", max_bytes=MIB
    )
    second = await subject.store.put(
        chunks=chunked(sample("sample.gif")), content_type="image/gif", max_bytes=MIB
    )
    assert first.key != second.key
    assert len(first.key) == 32
    assert int(first.key, 16) >= 0
    assert first.sha1_base64 == second.sha1_base64


async def test_ping(subject: StoreUnderTest) -> None:
    await subject.store.ping()
    assert subject.contents() == []
