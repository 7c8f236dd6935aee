"""Inline attachment data moved to the blob store (on a real local store)."""

from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest

from fhir_server.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from fhir_server.store.attachments import externalize_attachments
from fhir_server.store.blob_local import LocalBlobStore
from fhir_server.store.blobs import StoredBlob
from tests.store.blob_fixtures import MIB, local_contents, read_all, sample

ATTACHMENT = "DocumentReference.content[0].attachment"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha1_b64(data: bytes) -> str:
    return b64(hashlib.sha1(data).digest())


class BinaryMaker:
    """Stands in for the repository creating Binary resources: records what it was given."""

    def __init__(self, *, fail_on_call: int | None = None) -> None:
        self.made: list[StoredBlob] = []
        self._fail_on_call = fail_on_call

    async def __call__(self, blob: StoredBlob) -> str:
        if len(self.made) + 1 == self._fail_on_call:
            raise RuntimeError("repository unavailable")
        self.made.append(blob)
        return f"Binary/b{len(self.made)}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> LocalBlobStore:
    return LocalBlobStore(root=root)


def document_reference(*attachments: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": attachment} for attachment in attachments],
    }


async def test_document_reference_data_becomes_a_binary_url(store: LocalBlobStore, root: Path) -> None:
    pdf = sample("sample.pdf")
    resource = document_reference(
        {"contentType": "application/pdf", "data": b64(pdf), "title": "Discharge letter"},
        {"contentType": "image/png", "url": "https://example.org/scan.png"},
    )
    original = copy.deepcopy(resource)
    maker = BinaryMaker()
    result = await externalize_attachments(resource, blob_store=store, max_bytes=MIB, make_binary=maker)
    assert resource == original  # the input is untouched
    assert result["content"][0]["attachment"] == {
        "contentType": "application/pdf",
        "title": "Discharge letter",
        "url": "Binary/b1",
        "size": len(pdf),
        "hash": sha1_b64(pdf),
    }
    assert result["content"][1] == original["content"][1]
    assert result["status"] == "current"
    [blob] = maker.made
    assert blob.content_type == "application/pdf"
    assert await read_all(await store.open(blob.key)) == pdf
    assert local_contents(root) == [f"{blob.key[:2]}/{blob.key}"]


async def test_several_inline_attachments_keep_their_order(store: LocalBlobStore) -> None:
    text = sample("sample.txt")
    tiff = sample("sample.tiff")
    resource = document_reference(
        {"contentType": "text/plain; charset=utf-8", "data": b64(text)},
        {"contentType": "image/tiff", "data": b64(tiff), "size": len(tiff), "hash": sha1_b64(tiff)},
    )
    result = await externalize_attachments(
        resource, blob_store=store, max_bytes=MIB, make_binary=BinaryMaker()
    )
    first, second = (content["attachment"] for content in result["content"])
    assert (first["url"], first["contentType"], first["size"]) == (
        "Binary/b1",
        "text/plain; charset=utf-8",
        len(text),
    )
    assert (second["url"], second["hash"]) == ("Binary/b2", sha1_b64(tiff))
    assert "data" not in first
    assert "data" not in second


async def test_media_is_checked_as_an_image(store: LocalBlobStore) -> None:
    jpeg = sample("sample.jpg")
    resource = {
        "resourceType": "Media",
        "status": "completed",
        "content": {"contentType": "image/jpg", "data": b64(jpeg)},
    }
    result = await externalize_attachments(
        resource, blob_store=store, max_bytes=MIB, make_binary=BinaryMaker()
    )
    assert result["content"] == {
        "contentType": "image/jpeg",
        "url": "Binary/b1",
        "size": len(jpeg),
        "hash": sha1_b64(jpeg),
    }


async def test_media_refuses_a_document(store: LocalBlobStore, root: Path) -> None:
    resource = {
        "resourceType": "Media",
        "content": {"contentType": "application/pdf", "data": b64(sample("sample.pdf"))},
    }
    maker = BinaryMaker()
    with pytest.raises(UnsupportedMediaType):
        await externalize_attachments(resource, blob_store=store, max_bytes=MIB, make_binary=maker)
    assert maker.made == []
    assert local_contents(root) == []


async def test_base64_with_line_breaks_and_many_slices(store: LocalBlobStore) -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 1200
    wrapped = "\n".join(b64(data)[i : i + 76] for i in range(0, len(b64(data)), 76))
    resource = document_reference({"contentType": "application/pdf", "data": wrapped})
    maker = BinaryMaker()
    result = await externalize_attachments(resource, blob_store=store, max_bytes=MIB, make_binary=maker)
    assert result["content"][0]["attachment"]["hash"] == sha1_b64(data)
    assert await read_all(await store.open(maker.made[0].key)) == data


@pytest.mark.parametrize(
    ("attachment", "expression"),
    [
        (
            {"contentType": "application/pdf", "data": "JVBERi0x!!!"},
            "DocumentReference.content[0].attachment.data",
        ),
        (
            {"contentType": "application/pdf", "data": "JVBERi0"},
            "DocumentReference.content[0].attachment.data",
        ),
        ({"contentType": "application/pdf", "data": 12}, "DocumentReference.content[0].attachment.data"),
        ({"data": b64(sample("sample.pdf"))}, "DocumentReference.content[0].attachment.contentType"),
        (
            {"contentType": "application/pdf", "data": b64(sample("sample.pdf")), "hash": sha1_b64(b"other")},
            f"{ATTACHMENT}.hash",
        ),
        (
            {"contentType": "application/pdf", "data": b64(sample("sample.pdf")), "size": 1},
            f"{ATTACHMENT}.size",
        ),
    ],
)
async def test_bad_attachments_are_refused_with_their_location(
    store: LocalBlobStore, root: Path, attachment: dict[str, Any], expression: str
) -> None:
    with pytest.raises(BadRequest) as raised:
        await externalize_attachments(
            document_reference(attachment), blob_store=store, max_bytes=MIB, make_binary=BinaryMaker()
        )
    assert raised.value.expression == (expression,)
    assert local_contents(root) == []


async def test_a_later_failure_removes_the_blobs_already_stored(store: LocalBlobStore, root: Path) -> None:
    resource = document_reference(
        {"contentType": "application/pdf", "data": b64(sample("sample.pdf"))},
        {"contentType": "application/pdf", "data": b64(sample("elf_renamed.pdf"))},
    )
    maker = BinaryMaker()
    with pytest.raises(UnsupportedMediaType):
        await externalize_attachments(resource, blob_store=store, max_bytes=MIB, make_binary=maker)
    assert maker.made == []
    assert local_contents(root) == []


async def test_make_binary_failure_removes_the_blobs_not_yet_bound(store: LocalBlobStore, root: Path) -> None:
    resource = document_reference(
        {"contentType": "application/pdf", "data": b64(sample("sample.pdf"))},
        {"contentType": "image/png", "data": b64(sample("sample.png"))},
    )
    maker = BinaryMaker(fail_on_call=2)
    with pytest.raises(RuntimeError):
        await externalize_attachments(resource, blob_store=store, max_bytes=MIB, make_binary=maker)
    [bound] = maker.made
    assert local_contents(root) == [f"{bound.key[:2]}/{bound.key}"]


async def test_size_limit_applies_to_each_attachment(store: LocalBlobStore, root: Path) -> None:
    resource = document_reference({"contentType": "application/pdf", "data": b64(sample("sample.pdf"))})
    with pytest.raises(PayloadTooLarge):
        await externalize_attachments(resource, blob_store=store, max_bytes=100, make_binary=BinaryMaker())
    assert local_contents(root) == []


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "photo": [{"contentType": "image/png", "data": "iVBORw0KGgo="}]},
        document_reference({"contentType": "application/pdf", "url": "Binary/1"}),
        {"resourceType": "DocumentReference", "content": "not a list"},
        {"resourceType": "Media", "content": {"contentType": "image/png", "url": "Binary/2"}},
    ],
)
async def test_nothing_to_externalize(store: LocalBlobStore, root: Path, resource: dict[str, Any]) -> None:
    maker = BinaryMaker()
    result = await externalize_attachments(resource, blob_store=store, max_bytes=MIB, make_binary=maker)
    assert result == resource
    assert maker.made == []
    assert local_contents(root) == []
