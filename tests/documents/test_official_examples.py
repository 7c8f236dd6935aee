"""The official R4B examples of Binary, DocumentReference and Media, through the documents rules."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.documents.helpers import BASE, FHIR_JSON, WANTS_FHIR, DocumentsApp, essence, sha1_b64


def example(shared_dir: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((shared_dir / "reference" / "fhir-r4b-examples" / name).read_text())
    return loaded


async def test_official_binaries_round_trip(local_docs: DocumentsApp, shared_dir: Path) -> None:
    for name in ("Binary-example.json", "Binary-f006.json"):
        binary = example(shared_dir, name)
        data = base64.b64decode(binary["data"])
        url = f"{BASE}/Binary/{binary['id']}"
        stored = await local_docs.client.put(url, json=binary, headers=FHIR_JSON)
        assert stored.status_code == 201, stored.text
        assert "data" not in stored.json()
        raw = await local_docs.client.get(url)
        assert raw.content == data
        assert essence(raw.headers["Content-Type"]) == binary["contentType"]
        as_json = (await local_docs.client.get(url, headers=WANTS_FHIR)).json()
        kept = {"resourceType", "id", "contentType", "securityContext"}
        assert {k: v for k, v in as_json.items() if k in kept} == {
            k: v for k, v in binary.items() if k in kept
        }
        assert base64.b64decode(as_json["data"]) == data
        assert as_json["meta"]["tag"] == binary["meta"]["tag"]


async def test_official_media_data_is_externalized_and_audio_refused(
    local_docs: DocumentsApp, shared_dir: Path
) -> None:
    image = example(shared_dir, "Media-example.json")
    gif = base64.b64decode("".join(image["content"]["data"].split()))
    stored = await local_docs.client.put(f"{BASE}/Media/{image['id']}", json=image, headers=FHIR_JSON)
    assert stored.status_code == 201, stored.text
    content = stored.json()["content"]
    assert "data" not in content
    assert content["hash"] == sha1_b64(gif)
    assert (await local_docs.client.get(f"{BASE}/{content['url']}")).content == gif
    sound = example(shared_dir, "Media-sound.json")
    refused = await local_docs.client.put(f"{BASE}/Media/{sound['id']}", json=sound, headers=FHIR_JSON)
    assert refused.status_code == 415  # a clinic Media is an image


async def test_official_document_reference_with_a_url_is_kept_as_it_is(
    local_docs: DocumentsApp, shared_dir: Path
) -> None:
    document = example(shared_dir, "DocumentReference-example.json")
    url = f"{BASE}/DocumentReference/{document['id']}"
    assert (await local_docs.client.put(url, json=document, headers=FHIR_JSON)).status_code == 201
    read = (await local_docs.client.get(url)).json()
    assert read["content"] == document["content"]
    assert await local_docs.count("Binary") == 0
