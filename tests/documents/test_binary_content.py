"""Raw Binary uploads and downloads through the real app, on the local store and on S3."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import AppFactory
from tests.documents.helpers import (
    ALLOWED_SAMPLES,
    BASE,
    WANTS_FHIR,
    DocumentsApp,
    b64,
    blob_key,
    essence,
    sha1_b64,
    upload,
    upload_sample,
)
from tests.store.blob_fixtures import sample
from tests.support import client_for


async def test_every_allowed_type_round_trips_exactly(docs: DocumentsApp) -> None:
    for name, content_type in ALLOWED_SAMPLES:
        data = sample(name)
        created = await upload(docs.client, data, content_type)
        assert created.status_code == 201, f"{name}: {created.text}"
        binary = created.json()
        assert created.headers["Location"].endswith(f"/Binary/{binary['id']}/_history/1")
        assert binary["contentType"] == content_type
        assert "data" not in binary
        read = await docs.client.get(f"{BASE}/Binary/{binary['id']}")
        assert read.status_code == 200, name
        assert read.content == data, name
        assert essence(read.headers["Content-Type"]) == content_type
        assert read.headers["Content-Length"] == str(len(data))
        assert read.headers["X-Content-Type-Options"] == "nosniff"
        assert read.headers["Accept-Ranges"] == "bytes"
        assert read.headers["ETag"] == 'W/"1"'
        assert "Last-Modified" in read.headers


async def test_stored_binary_keeps_bytes_out_of_the_database(docs: DocumentsApp) -> None:
    data = sample("sample.pdf")
    binary = await upload_sample(docs.client, "sample.pdf", "application/pdf")
    stored = await docs.stored("Binary", binary["id"])
    assert "data" not in stored
    [extension] = stored["meta"]["extension"]
    parts = {part["url"]: part for part in extension["extension"]}
    assert parts["size"]["valueInteger"] == len(data)
    assert parts["hash"]["valueBase64Binary"] == sha1_b64(data)
    assert any(blob_key(stored) in item for item in docs.contents())


async def test_fhir_json_form_inlines_small_content(docs: DocumentsApp) -> None:
    data = sample("sample.png")
    binary = await upload_sample(docs.client, "sample.png", "image/png")
    read = await docs.client.get(f"{BASE}/Binary/{binary['id']}", headers=WANTS_FHIR)
    assert read.status_code == 200
    assert read.headers["Content-Type"].startswith("application/fhir+json")
    body = read.json()
    assert body["resourceType"] == "Binary"
    assert base64.b64decode(body["data"]) == data
    assert body["contentType"] == "image/png"
    by_format = await docs.client.get(f"{BASE}/Binary/{binary['id']}?_format=json")
    assert by_format.json()["data"] == b64(data)


async def test_accept_naming_the_content_type_or_anything_gets_the_bytes(local_docs: DocumentsApp) -> None:
    data = sample("sample.pdf")
    binary = await upload_sample(local_docs.client, "sample.pdf", "application/pdf")
    url = f"{BASE}/Binary/{binary['id']}"
    for accept in ("application/pdf", "*/*", "application/pdf, application/fhir+json", "image/*"):
        read = await local_docs.client.get(url, headers={"Accept": accept})
        assert read.content == data, accept
    as_json = await local_docs.client.get(url, headers={"Accept": "application/json"})
    assert as_json.json()["resourceType"] == "Binary"
    as_xml = await local_docs.client.get(url, headers={"Accept": "application/fhir+xml"})
    assert as_xml.status_code == 406


async def test_large_content_is_left_out_of_the_fhir_json_form(app_factory: AppFactory) -> None:
    app = await app_factory(binary_inline_max_bytes=100)
    async with client_for(app) as client:
        data = sample("sample.pdf")  # 596 bytes
        binary = await upload_sample(client, "sample.pdf", "application/pdf")
        read = await client.get(f"{BASE}/Binary/{binary['id']}", headers=WANTS_FHIR)
        assert read.status_code == 200
        assert "data" not in read.json()
        raw = await client.get(f"{BASE}/Binary/{binary['id']}")
        assert raw.content == data


async def test_fhir_json_binary_create_moves_data_to_the_blob_store(docs: DocumentsApp) -> None:
    data = sample("sample.json")
    body = {"resourceType": "Binary", "contentType": "application/json", "data": b64(data)}
    created = await docs.client.post(
        f"{BASE}/Binary", json=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert created.status_code == 201, created.text
    binary_id = created.json()["id"]
    assert "data" not in await docs.stored("Binary", binary_id)
    raw = await docs.client.get(f"{BASE}/Binary/{binary_id}")
    assert raw.content == data
    assert essence(raw.headers["Content-Type"]) == "application/json"


async def test_vread_serves_that_versions_bytes(docs: DocumentsApp) -> None:
    first, second = sample("sample.png"), sample("sample.gif")
    binary = await upload_sample(docs.client, "sample.png", "image/png")
    url = f"{BASE}/Binary/{binary['id']}"
    replaced = await docs.client.put(url, content=second, headers={"Content-Type": "image/gif"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["meta"]["versionId"] == "2"
    assert (await docs.client.get(url)).content == second
    old = await docs.client.get(f"{url}/_history/1")
    assert old.content == first
    assert essence(old.headers["Content-Type"]) == "image/png"
    assert (await docs.client.get(f"{url}/_history/2")).content == second
    old_json = await docs.client.get(f"{url}/_history/1", headers=WANTS_FHIR)
    assert base64.b64decode(old_json.json()["data"]) == first


async def test_same_content_again_is_a_no_op_update(local_docs: DocumentsApp) -> None:
    data = sample("sample.jpg")
    binary = await upload_sample(local_docs.client, "sample.jpg", "image/jpeg")
    url = f"{BASE}/Binary/{binary['id']}"
    blobs_before = local_docs.contents()
    again = await local_docs.client.put(url, content=data, headers={"Content-Type": "image/jpeg"})
    assert again.status_code == 200
    assert again.json()["meta"]["versionId"] == "1"
    as_json = {"resourceType": "Binary", "id": binary["id"], "contentType": "image/jpeg", "data": b64(data)}
    again_json = await local_docs.client.put(
        url, json=as_json, headers={"Content-Type": "application/fhir+json"}
    )
    assert again_json.json()["meta"]["versionId"] == "1"
    assert local_docs.contents() == blobs_before  # the duplicate bytes were not kept


async def test_security_context_header_is_kept_across_raw_updates(local_docs: DocumentsApp) -> None:
    created = await upload(
        local_docs.client, sample("sample.png"), "image/png", **{"X-Security-Context": "Patient/p1"}
    )
    binary = created.json()
    assert binary["securityContext"] == {"reference": "Patient/p1"}
    url = f"{BASE}/Binary/{binary['id']}"
    updated = await local_docs.client.put(
        url, content=sample("sample.gif"), headers={"Content-Type": "image/gif"}
    )
    assert updated.json()["securityContext"] == {"reference": "Patient/p1"}
    bad = await upload(local_docs.client, sample("sample.png"), "image/png", **{"X-Security-Context": "nope"})
    assert bad.status_code == 400


async def test_round_trip_of_the_json_form_keeps_the_blob(local_docs: DocumentsApp) -> None:
    binary = await upload_sample(local_docs.client, "sample.pdf", "application/pdf")
    url = f"{BASE}/Binary/{binary['id']}"
    changed = {**binary, "securityContext": {"reference": "Patient/p2"}}
    updated = await local_docs.client.put(
        url, json=changed, headers={"Content-Type": "application/fhir+json"}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"
    assert (await local_docs.client.get(url)).content == sample("sample.pdf")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        pytest.param({"contentType": "image/png"}, 400, id="relabelled-bytes"),
        pytest.param({"id": "another"}, 400, id="someone-elses-blob"),
    ],
)
async def test_a_client_cannot_point_a_binary_at_bytes_it_did_not_send(
    local_docs: DocumentsApp, change: dict[str, str], status: int
) -> None:
    binary = await upload_sample(local_docs.client, "sample.pdf", "application/pdf")
    forged = {**binary, **change}
    url = f"{BASE}/Binary/{forged['id']}"
    response = await local_docs.client.put(
        url, json=forged, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    without_id = {key: value for key, value in binary.items() if key != "id"}
    for copy in (binary, without_id):  # a create never takes over another Binary's bytes
        created = await local_docs.client.post(
            f"{BASE}/Binary", json=copy, headers={"Content-Type": "application/fhir+json"}
        )
        assert created.status_code == 400


async def test_create_with_the_same_bytes_as_another_binary_gets_its_own_blob(
    local_docs: DocumentsApp,
) -> None:
    data = sample("sample.pdf")
    first = await upload_sample(local_docs.client, "sample.pdf", "application/pdf")
    second = await local_docs.client.post(
        f"{BASE}/Binary",
        json={
            "resourceType": "Binary",
            "id": first["id"],
            "contentType": "application/pdf",
            "data": b64(data),
        },
        headers={"Content-Type": "application/fhir+json"},
    )
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first["id"]
    assert blob_key(second.json()) != blob_key(first)
    assert len(local_docs.contents()) == 2


async def test_binary_without_content_is_refused(local_docs: DocumentsApp) -> None:
    body = {"resourceType": "Binary", "contentType": "application/pdf"}
    response = await local_docs.client.post(
        f"{BASE}/Binary", json=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 400
    assert await local_docs.count("Binary") == 0


async def test_type_level_routes_still_reach_the_generic_handlers(local_docs: DocumentsApp) -> None:
    binary = await upload_sample(local_docs.client, "sample.pdf", "application/pdf")
    history = await local_docs.client.get(f"{BASE}/Binary/_history")
    assert history.status_code == 200
    assert history.json()["resourceType"] == "Bundle"
    instance_history = await local_docs.client.get(f"{BASE}/Binary/{binary['id']}/_history")
    assert len(instance_history.json()["entry"]) == 1
    missing = await local_docs.client.get(f"{BASE}/Binary/does-not-exist")
    assert missing.status_code == 404
