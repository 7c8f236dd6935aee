"""Range requests, conditional reads and presigned redirects for Binary content."""

from __future__ import annotations

import httpx

from tests.conftest import AppFactory
from tests.documents.helpers import BASE, DocumentsApp, upload_sample
from tests.store.blob_fixtures import MotoS3, sample
from tests.support import client_for


async def test_single_ranges_are_served_partially(docs: DocumentsApp) -> None:
    data = sample("sample.pdf")
    binary = await upload_sample(docs.client, "sample.pdf", "application/pdf")
    url = f"{BASE}/Binary/{binary['id']}"
    cases = {
        "bytes=0-9": (0, 9),
        "bytes=100-": (100, len(data) - 1),
        "bytes=-50": (len(data) - 50, len(data) - 1),
        f"bytes=590-{len(data) + 100}": (590, len(data) - 1),
    }
    for header, (first, last) in cases.items():
        response = await docs.client.get(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == data[first : last + 1], header
        assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
        assert response.headers["Content-Length"] == str(last - first + 1)
        assert response.headers["Content-Type"] == "application/pdf"


async def test_unsatisfiable_range_is_416(docs: DocumentsApp) -> None:
    data = sample("sample.png")
    binary = await upload_sample(docs.client, "sample.png", "image/png")
    response = await docs.client.get(
        f"{BASE}/Binary/{binary['id']}", headers={"Range": f"bytes={len(data)}-"}
    )
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(data)}"
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_malformed_or_multiple_ranges_get_the_whole_content(local_docs: DocumentsApp) -> None:
    data = sample("sample.pdf")
    binary = await upload_sample(local_docs.client, "sample.pdf", "application/pdf")
    for header in ("bytes=0-1,5-6", "lines=1-2", "bytes=x-y"):
        response = await local_docs.client.get(f"{BASE}/Binary/{binary['id']}", headers={"Range": header})
        assert response.status_code == 200, header
        assert response.content == data


async def test_if_range_and_conditional_reads(local_docs: DocumentsApp) -> None:
    data = sample("sample.pdf")
    binary = await upload_sample(local_docs.client, "sample.pdf", "application/pdf")
    url = f"{BASE}/Binary/{binary['id']}"
    current = await local_docs.client.get(url, headers={"Range": "bytes=0-3", "If-Range": 'W/"1"'})
    assert current.status_code == 206
    assert current.content == data[:4]
    stale = await local_docs.client.get(url, headers={"Range": "bytes=0-3", "If-Range": 'W/"7"'})
    assert stale.status_code == 200
    assert stale.content == data
    unchanged = await local_docs.client.get(url, headers={"If-None-Match": 'W/"1"'})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["ETag"] == 'W/"1"'


async def test_presigned_redirect_on_s3(app_factory: AppFactory, moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    app = await app_factory(
        blob_store="s3", s3_bucket=bucket, s3_endpoint_url=moto_s3.endpoint_url, s3_presigned_redirect=True
    )
    data = sample("sample.jpg")
    async with client_for(app) as client:
        binary = await upload_sample(client, "sample.jpg", "image/jpeg")
        response = await client.get(f"{BASE}/Binary/{binary['id']}")
        assert response.status_code == 307
        location = response.headers["Location"]
        assert location.startswith(moto_s3.endpoint_url)
        assert response.headers["Cache-Control"] == "no-store"
        as_json = await client.get(
            f"{BASE}/Binary/{binary['id']}", headers={"Accept": "application/fhir+json"}
        )
        assert as_json.status_code == 200  # the FHIR form is still served by the server
    async with httpx.AsyncClient() as direct:
        fetched = await direct.get(location)
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["Content-Type"] == "image/jpeg"


async def test_presigned_redirect_setting_is_ignored_by_the_local_store(app_factory: AppFactory) -> None:
    app = await app_factory(s3_presigned_redirect=True)
    async with client_for(app) as client:
        binary = await upload_sample(client, "sample.gif", "image/gif")
        response = await client.get(f"{BASE}/Binary/{binary['id']}")
        assert response.status_code == 200
        assert response.content == sample("sample.gif")
