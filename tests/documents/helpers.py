"""Helpers for the documents tests: sample files, uploads, what the blob store and database hold."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from fastapi import FastAPI

from tests.store.blob_fixtures import local_contents, sample
from tests.support import TEST_BASE, unique

BASE: Final = TEST_BASE  # absolute URLs: right whatever base the test client has
FHIR_JSON: Final = {"Content-Type": "application/fhir+json"}
WANTS_FHIR: Final = {"Accept": "application/fhir+json"}
BLOB_EXTENSION: Final = "http://clinic.example.org/fhir/StructureDefinition/binary-blob"

# Every sample an upload may be, with its media type.
ALLOWED_SAMPLES: Final = (
    ("sample.pdf", "application/pdf"),
    ("sample.png", "image/png"),
    ("sample.jpg", "image/jpeg"),
    ("sample.tiff", "image/tiff"),
    ("sample.gif", "image/gif"),
    ("sample.webp", "image/webp"),
    ("sample.dcm", "application/dicom"),
    ("sample.txt", "text/plain"),
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha1_b64(data: bytes) -> str:
    return b64(hashlib.sha1(data).digest())


def essence(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip()


def blob_key(binary: dict[str, Any]) -> str:
    """The blob key a stored Binary names."""
    for extension in binary["meta"]["extension"]:
        if extension["url"] == BLOB_EXTENSION:
            return str(next(part["valueString"] for part in extension["extension"] if part["url"] == "key"))
    raise AssertionError("the Binary names no blob")


@dataclass
class DocumentsApp:
    """An app under test and a view of what its blob store holds."""

    app: FastAPI
    client: httpx.AsyncClient
    store: str  # "local" or "s3"
    contents: Callable[[], list[str]]

    async def count(self, resource_type: str) -> int:
        """Documents (current versions, tombstones included) in a type's collection."""
        return int(await self.app.state.db[f"resources.{resource_type}"].count_documents({}))

    async def stored(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        doc = await self.app.state.db[f"resources.{resource_type}"].find_one({"_id": resource_id})
        assert doc is not None
        resource: dict[str, Any] = doc["res"]
        return resource


def local_blob_contents(root: Path) -> Callable[[], list[str]]:
    return lambda: local_contents(root) if root.exists() else []


async def upload(client: httpx.AsyncClient, data: bytes, content_type: str, **headers: str) -> httpx.Response:
    return await client.post(
        f"{BASE}/Binary", content=data, headers={"Content-Type": content_type, **headers}
    )


async def upload_sample(client: httpx.AsyncClient, name: str, content_type: str) -> dict[str, Any]:
    response = await upload(client, sample(name), content_type)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_patient(client: httpx.AsyncClient) -> str:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "http://clinic.example.org/mrn", "value": unique("mrn")}],
        "name": [{"family": "Chalmers", "given": ["Peter"]}],
    }
    response = await client.post(f"{BASE}/Patient", json=patient, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def document_reference(patient_id: str, *attachments: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient_id}"},
        "content": [{"attachment": attachment} for attachment in attachments],
    }


def media(patient_id: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Media",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "content": content,
    }
