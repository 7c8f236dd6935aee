"""Uploads that must be refused: disguised executables and scripts, wrong types, too large."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import AppFactory
from tests.documents.helpers import BASE, DocumentsApp, b64, local_blob_contents, upload
from tests.store.blob_fixtures import sample
from tests.support import client_for

DISGUISED = [
    pytest.param("elf_renamed.pdf", "application/pdf", 415, id="elf-as-pdf"),
    pytest.param("archive_renamed.pdf", "application/pdf", 415, id="zip-as-pdf"),
    pytest.param("windows_program.jpg", "image/jpeg", 415, id="exe-as-jpeg"),
    pytest.param("dicom_with_executable_preamble.dcm", "application/dicom", 415, id="dicom-polyglot"),
    pytest.param("image_with_script.svg", "image/svg+xml", 415, id="svg"),
    pytest.param("note_with_script.txt", "text/plain", 415, id="script-in-note"),
    pytest.param("page_with_script.txt", "text/plain", 415, id="html-as-text"),
    pytest.param("piped_download.txt", "text/plain", 415, id="curl-pipe-sh"),
    pytest.param("powershell.txt", "text/plain", 415, id="powershell"),
    pytest.param("shell_script.txt", "text/plain", 415, id="shell-script"),
    pytest.param("latin1_note.txt", "text/plain", 400, id="not-utf8"),
    pytest.param("sample.png", "application/pdf", 400, id="png-declared-pdf"),
    pytest.param("sample.pdf", "text/html", 415, id="html-type"),
    pytest.param("sample.pdf", "application/x-msdownload", 415, id="unknown-type"),
]


@pytest.mark.parametrize(("name", "content_type", "status"), DISGUISED)
async def test_disguised_uploads_are_refused_and_nothing_is_kept(
    local_docs: DocumentsApp, name: str, content_type: str, status: int
) -> None:
    response = await upload(local_docs.client, sample(name), content_type)
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert local_docs.contents() == []
    assert await local_docs.count("Binary") == 0


async def test_disguised_data_in_fhir_json_is_refused_on_s3(s3_docs: DocumentsApp) -> None:
    body = {
        "resourceType": "Binary",
        "contentType": "application/pdf",
        "data": b64(sample("elf_renamed.pdf")),
    }
    response = await s3_docs.client.post(
        f"{BASE}/Binary", json=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 415
    assert s3_docs.contents() == []


async def test_missing_content_type_and_empty_body_are_refused(local_docs: DocumentsApp) -> None:
    no_type = await local_docs.client.post(f"{BASE}/Binary", content=sample("sample.pdf"))
    assert no_type.status_code == 415
    empty = await upload(local_docs.client, b"", "application/pdf")
    assert empty.status_code == 400
    assert local_docs.contents() == []


async def test_octet_stream_takes_the_sniffed_binary_type(local_docs: DocumentsApp) -> None:
    created = await upload(local_docs.client, sample("sample.tiff"), "application/octet-stream")
    assert created.status_code == 201
    assert created.json()["contentType"] == "image/tiff"


async def _chunked(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), 1000):
        yield data[offset : offset + 1000]


async def test_size_limit_refuses_with_413_and_stores_nothing(app_factory: AppFactory) -> None:
    app = await app_factory(upload_max_bytes=4096)
    contents = local_blob_contents(app.state.settings.data_dir / "blobs")
    big = sample("sample.pdf") + b"\n%" + b"x" * 8000
    async with client_for(app) as client:
        declared = await upload(client, big, "application/pdf")  # Content-Length says too much
        assert declared.status_code == 413
        streamed = await client.post(
            f"{BASE}/Binary", content=_chunked(big), headers={"Content-Type": "application/pdf"}
        )  # no Content-Length: refused while streaming
        assert streamed.status_code == 413
        assert streamed.json()["issue"][0]["code"] == "too-costly"
        as_json = {"resourceType": "Binary", "contentType": "application/pdf", "data": b64(big)}
        inline = await client.post(
            f"{BASE}/Binary", json=as_json, headers={"Content-Type": "application/fhir+json"}
        )
        assert inline.status_code == 413
        assert contents() == []
        assert await app.state.db["resources.Binary"].count_documents({}) == 0
        small = await upload(client, sample("sample.pdf"), "application/pdf")
        assert small.status_code == 201
