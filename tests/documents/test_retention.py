"""A Binary outlives every version that points at it; ``$expunge`` removes documents for good."""

from __future__ import annotations

from typing import Any

from fhir_server.auth.devtoken import make_dev_token
from tests.conftest import AppFactory
from tests.documents.helpers import (
    BASE,
    FHIR_JSON,
    DocumentsApp,
    b64,
    blob_key,
    create_patient,
    document_reference,
    upload_sample,
)
from tests.store.blob_fixtures import sample
from tests.support import client_for


async def _document_with_data(docs: DocumentsApp, patient_id: str) -> tuple[dict[str, Any], str]:
    resource = document_reference(
        patient_id, {"contentType": "application/pdf", "data": b64(sample("sample.pdf"))}
    )
    created = await docs.client.post(f"{BASE}/DocumentReference", json=resource, headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    document: dict[str, Any] = created.json()
    return document, document["content"][0]["attachment"]["url"].removeprefix("Binary/")


def _parameters(response_body: dict[str, Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for parameter in response_body["parameter"]:
        value = next(v for k, v in parameter.items() if k.startswith("value"))
        found.setdefault(parameter["name"], []).append(value)
    return found


async def test_binary_is_kept_while_any_version_points_at_it(local_docs: DocumentsApp) -> None:
    patient_id = await create_patient(local_docs.client)
    document, binary_id = await _document_with_data(local_docs, patient_id)
    refused = await local_docs.client.delete(f"{BASE}/Binary/{binary_id}")
    assert refused.status_code == 409
    assert f"DocumentReference/{document['id']}" in refused.json()["issue"][0]["diagnostics"]
    # A new version no longer pointing at the Binary: version 1 still does.
    replaced = {
        **document,
        "content": [{"attachment": {"contentType": "text/plain", "url": "https://example.org/x"}}],
    }
    updated = await local_docs.client.put(
        f"{BASE}/DocumentReference/{document['id']}", json=replaced, headers=FHIR_JSON
    )
    assert updated.status_code == 200
    assert (await local_docs.client.delete(f"{BASE}/Binary/{binary_id}")).status_code == 409
    # Deleting the document keeps its bytes: its history still leads to them.
    assert (await local_docs.client.delete(f"{BASE}/DocumentReference/{document['id']}")).status_code == 204
    assert (await local_docs.client.delete(f"{BASE}/Binary/{binary_id}")).status_code == 409
    old = await local_docs.client.get(f"{BASE}/DocumentReference/{document['id']}/_history/1")
    assert old.status_code == 200
    raw = await local_docs.client.get(f"{BASE}/{old.json()['content'][0]['attachment']['url']}")
    assert raw.content == sample("sample.pdf")


async def test_unreferenced_binary_can_be_deleted(local_docs: DocumentsApp) -> None:
    binary = await upload_sample(local_docs.client, "sample.png", "image/png")
    assert (await local_docs.client.delete(f"{BASE}/Binary/{binary['id']}")).status_code == 204
    assert (await local_docs.client.get(f"{BASE}/Binary/{binary['id']}")).status_code == 410


async def test_expunge_document_removes_its_history_binary_and_bytes(docs: DocumentsApp) -> None:
    patient_id = await create_patient(docs.client)
    document, binary_id = await _document_with_data(docs, patient_id)
    key = blob_key(await docs.stored("Binary", binary_id))
    assert any(key in item for item in docs.contents())
    doc_url = f"{BASE}/DocumentReference/{document['id']}"
    assert (await docs.client.delete(doc_url)).status_code == 204
    response = await docs.client.post(f"{doc_url}/$expunge")
    assert response.status_code == 200, response.text
    report = _parameters(response.json())
    assert report["count"] == [3]  # two DocumentReference versions and the Binary's one
    assert sorted(report["removed"]) == sorted([f"DocumentReference/{document['id']}", f"Binary/{binary_id}"])
    assert report["blobsDeleted"] == [1]
    assert (await docs.client.get(doc_url)).status_code == 404
    assert (await docs.client.get(f"{doc_url}/_history/1")).status_code == 404
    assert (await docs.client.get(f"{BASE}/Binary/{binary_id}")).status_code == 404
    assert not any(key in item for item in docs.contents())


async def test_expunge_keeps_a_binary_another_document_still_needs(local_docs: DocumentsApp) -> None:
    patient_id = await create_patient(local_docs.client)
    first, binary_id = await _document_with_data(local_docs, patient_id)
    second = document_reference(patient_id, {"contentType": "application/pdf", "url": f"Binary/{binary_id}"})
    created = await local_docs.client.post(f"{BASE}/DocumentReference", json=second, headers=FHIR_JSON)
    assert created.status_code == 201
    response = await local_docs.client.post(f"{BASE}/DocumentReference/{first['id']}/$expunge")
    assert response.status_code == 200
    assert _parameters(response.json())["removed"] == [f"DocumentReference/{first['id']}"]
    assert (await local_docs.client.get(f"{BASE}/Binary/{binary_id}")).content == sample("sample.pdf")
    refused = await local_docs.client.post(f"{BASE}/Binary/{binary_id}/$expunge")
    assert refused.status_code == 409


async def test_expunge_binary_alone(local_docs: DocumentsApp) -> None:
    binary = await upload_sample(local_docs.client, "sample.gif", "image/gif")
    url = f"{BASE}/Binary/{binary['id']}"
    await local_docs.client.put(url, content=sample("sample.png"), headers={"Content-Type": "image/png"})
    assert len(local_docs.contents()) == 2
    response = await local_docs.client.post(f"{url}/$expunge")
    assert response.status_code == 200, response.text
    assert _parameters(response.json())["blobsDeleted"] == [2]
    assert local_docs.contents() == []
    assert (await local_docs.client.get(f"{url}/_history/1")).status_code == 404


async def test_expunge_refuses_what_current_resources_reference(local_docs: DocumentsApp) -> None:
    patient_id = await create_patient(local_docs.client)
    document, _ = await _document_with_data(local_docs, patient_id)
    pointer = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": {"url": "https://example.org/x", "contentType": "text/plain"}}],
        "relatesTo": [{"code": "appends", "target": {"reference": f"DocumentReference/{document['id']}"}}],
    }
    assert (
        await local_docs.client.post(f"{BASE}/DocumentReference", json=pointer, headers=FHIR_JSON)
    ).status_code == 201
    response = await local_docs.client.post(f"{BASE}/DocumentReference/{document['id']}/$expunge")
    assert response.status_code == 409
    assert (await local_docs.client.post(f"{BASE}/DocumentReference/nope/$expunge")).status_code == 404


async def test_expunge_is_for_administrators_only(app_factory: AppFactory) -> None:
    app = await app_factory(auth_enabled=True)
    settings = app.state.settings
    staff = make_dev_token(settings=settings, scope="user/Binary.crus user/DocumentReference.crus")
    deleter = make_dev_token(settings=settings, scope="user/Binary.cruds user/DocumentReference.cruds")
    admin = make_dev_token(settings=settings, scope="user/*.cruds", allow_wildcard=True)
    async with client_for(app, Authorization=f"Bearer {staff}") as client:
        binary = await upload_sample(client, "sample.pdf", "application/pdf")
        refused = await client.post(f"{BASE}/Binary/{binary['id']}/$expunge")
        assert refused.status_code == 403
    async with client_for(app, Authorization=f"Bearer {deleter}") as client:
        # Deleting is not expunging: removing history for good is an administrator's act.
        refused = await client.post(f"{BASE}/Binary/{binary['id']}/$expunge")
        assert refused.status_code == 403
        assert "administrative" in refused.json()["issue"][0]["diagnostics"]
    async with client_for(app, Authorization=f"Bearer {admin}") as client:
        allowed = await client.post(f"{BASE}/Binary/{binary['id']}/$expunge")
        assert allowed.status_code == 200, allowed.text
