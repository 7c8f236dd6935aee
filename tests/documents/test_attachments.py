"""DocumentReference and Media written with inline attachment data: the bytes move to a Binary."""

from __future__ import annotations

import pytest

from tests.documents.helpers import (
    BASE,
    FHIR_JSON,
    DocumentsApp,
    b64,
    create_patient,
    document_reference,
    essence,
    media,
    sha1_b64,
)
from tests.store.blob_fixtures import sample


async def test_document_reference_data_becomes_a_binary(docs: DocumentsApp) -> None:
    patient_id = await create_patient(docs.client)
    pdf, note = sample("sample.pdf"), sample("sample.txt")
    resource = document_reference(
        patient_id,
        {"contentType": "application/pdf", "data": b64(pdf), "title": "Referral"},
        {"contentType": "text/plain", "data": b64(note)},
    )
    created = await docs.client.post(f"{BASE}/DocumentReference", json=resource, headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    body = created.json()
    for content, data, content_type in zip(
        body["content"], (pdf, note), ("application/pdf", "text/plain"), strict=True
    ):
        attachment = content["attachment"]
        assert "data" not in attachment
        assert attachment["size"] == len(data)
        assert attachment["hash"] == sha1_b64(data)
        assert attachment["url"].startswith("Binary/")
        raw = await docs.client.get(f"{BASE}/{attachment['url']}")
        assert raw.content == data
        assert essence(raw.headers["Content-Type"]) == content_type
        binary = await docs.stored("Binary", attachment["url"].removeprefix("Binary/"))
        assert binary["securityContext"] == {"reference": f"Patient/{patient_id}"}
    assert body["content"][0]["attachment"]["title"] == "Referral"
    read = await docs.client.get(f"{BASE}/DocumentReference/{body['id']}")
    assert read.json() == body
    assert len(read.content) < 2000  # reading it never carries the bytes


async def test_media_image_data_becomes_a_binary(local_docs: DocumentsApp) -> None:
    patient_id = await create_patient(local_docs.client)
    png = sample("sample.png")
    resource = media(patient_id, {"contentType": "image/png", "data": b64(png)})
    created = await local_docs.client.post(f"{BASE}/Media", json=resource, headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    content = created.json()["content"]
    assert content == {
        "contentType": "image/png",
        "url": content["url"],
        "size": len(png),
        "hash": sha1_b64(png),
    }
    assert (await local_docs.client.get(f"{BASE}/{content['url']}")).content == png


@pytest.mark.parametrize(
    ("resource_type", "content_type", "name", "status"),
    [
        pytest.param("Media", "application/pdf", "sample.pdf", 415, id="pdf-is-no-image"),
        pytest.param("Media", "image/jpeg", "windows_program.jpg", 415, id="exe-as-image"),
        pytest.param("DocumentReference", "image/gif", "sample.gif", 415, id="gif-is-no-document"),
        pytest.param("DocumentReference", "application/pdf", "sample.png", 400, id="mismatch"),
    ],
)
async def test_refused_attachment_data_leaves_nothing_behind(
    local_docs: DocumentsApp, resource_type: str, content_type: str, name: str, status: int
) -> None:
    patient_id = await create_patient(local_docs.client)
    attachment = {"contentType": content_type, "data": b64(sample(name))}
    resource = (
        media(patient_id, attachment)
        if resource_type == "Media"
        else document_reference(patient_id, attachment)
    )
    response = await local_docs.client.post(f"{BASE}/{resource_type}", json=resource, headers=FHIR_JSON)
    assert response.status_code == status, response.text
    assert local_docs.contents() == []
    assert await local_docs.count("Binary") == 0


async def test_declared_hash_must_match_the_data(local_docs: DocumentsApp) -> None:
    patient_id = await create_patient(local_docs.client)
    pdf = sample("sample.pdf")
    wrong = document_reference(
        patient_id, {"contentType": "application/pdf", "data": b64(pdf), "hash": b64(b"x" * 20)}
    )
    response = await local_docs.client.post(f"{BASE}/DocumentReference", json=wrong, headers=FHIR_JSON)
    assert response.status_code == 400
    assert local_docs.contents() == []


async def test_failed_write_creates_no_binary(local_docs: DocumentsApp) -> None:
    """The Binary is created in the resource's own transaction: a refused write leaves none."""
    patient_id = await create_patient(local_docs.client)
    first = document_reference(patient_id, {"contentType": "text/plain", "url": "https://example.org/a.txt"})
    created = await local_docs.client.post(f"{BASE}/DocumentReference", json=first, headers=FHIR_JSON)
    doc_id = created.json()["id"]
    update = {
        **document_reference(
            patient_id, {"contentType": "application/pdf", "data": b64(sample("sample.pdf"))}
        ),
        "id": doc_id,
    }
    stale = await local_docs.client.put(
        f"{BASE}/DocumentReference/{doc_id}", json=update, headers={**FHIR_JSON, "If-Match": 'W/"9"'}
    )
    assert stale.status_code == 412
    assert await local_docs.count("Binary") == 0
    fresh = await local_docs.client.put(
        f"{BASE}/DocumentReference/{doc_id}", json=update, headers={**FHIR_JSON, "If-Match": 'W/"1"'}
    )
    assert fresh.status_code == 200, fresh.text
    assert await local_docs.count("Binary") == 1


async def test_inline_data_in_a_transaction_bundle(local_docs: DocumentsApp) -> None:
    patient_id = await create_patient(local_docs.client)
    png = sample("sample.png")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1c1d84-6a4b-4b7e-9d52-0c1b8f1f4a01",
                "resource": media(patient_id, {"contentType": "image/png", "data": b64(png)}),
                "request": {"method": "POST", "url": "Media"},
            }
        ],
    }
    response = await local_docs.client.post(BASE, json=bundle, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    location = response.json()["entry"][0]["response"]["location"]
    stored = await local_docs.client.get(f"{BASE}/{location}")
    url = stored.json()["content"]["url"]
    assert (await local_docs.client.get(f"{BASE}/{url}")).content == png
