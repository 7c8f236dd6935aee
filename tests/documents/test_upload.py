"""``$upload``: multipart/form-data uploads creating a Binary and a DocumentReference or Media."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fhir_server.auth.devtoken import make_dev_token
from fhir_server.conformance.validator import ProfileValidator
from tests.conftest import AppFactory
from tests.documents.helpers import BASE, DocumentsApp, create_patient, essence, sha1_b64
from tests.store.blob_fixtures import MIB, GeneratedStream, sample
from tests.support import client_for

DOCUMENT_PROFILE = "http://clinic.example.org/fhir/StructureDefinition/clinic-documentreference"
MEDIA_PROFILE = "http://clinic.example.org/fhir/StructureDefinition/clinic-media"


@pytest.fixture(scope="module")
def validator() -> ProfileValidator:
    return ProfileValidator.from_directories()


def errors(validator: ProfileValidator, resource: dict[str, Any], profile: str) -> list[str]:
    issues = validator.validate(resource, profiles=[profile])
    return [issue.diagnostics for issue in issues if issue.severity in {"error", "fatal"}]


async def test_document_upload_creates_a_conforming_document_reference(
    docs: DocumentsApp, validator: ProfileValidator
) -> None:
    patient_id = await create_patient(docs.client)
    pdf = sample("sample.pdf")
    response = await docs.client.post(
        f"{BASE}/DocumentReference/$upload",
        data={
            "patient": f"Patient/{patient_id}",
            "category": "lab-report",
            "type": "http://loinc.org|11502-2",
            "description": "Blood panel",
            "date": "2024-05-01",
        },
        files={"file": ("../../etc/Blood panel.pdf", pdf, "application/pdf")},
    )
    assert response.status_code == 201, response.text
    document = response.json()
    assert response.headers["Location"].endswith(f"/DocumentReference/{document['id']}/_history/1")
    assert errors(validator, document, DOCUMENT_PROFILE) == []
    assert document["meta"]["profile"] == [DOCUMENT_PROFILE]
    assert document["subject"] == {"reference": f"Patient/{patient_id}"}
    assert document["category"][0]["coding"][0]["code"] == "lab-report"
    assert document["type"] == {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]}
    assert document["description"] == "Blood panel"
    attachment = document["content"][0]["attachment"]
    assert attachment["title"] == "Blood panel.pdf"  # the client's path is gone
    assert attachment["creation"] == "2024-05-01"
    assert attachment["size"] == len(pdf)
    assert attachment["hash"] == sha1_b64(pdf)
    raw = await docs.client.get(f"{BASE}/{attachment['url']}")
    assert raw.content == pdf
    assert essence(raw.headers["Content-Type"]) == "application/pdf"


async def test_image_upload_creates_a_conforming_media(
    local_docs: DocumentsApp, validator: ProfileValidator
) -> None:
    patient_id = await create_patient(local_docs.client)
    jpeg = sample("sample.jpg")
    response = await local_docs.client.post(
        f"{BASE}/Media/$upload",
        data={
            "patient": patient_id,
            "bodySite": "left knee",
            "description": "Wound, day 3",
            "date": "2024-05-02",
        },
        files={"file": ("knee.jpg", jpeg, "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    image = response.json()
    assert errors(validator, image, MEDIA_PROFILE) == []
    assert image["type"]["coding"][0]["code"] == "image"
    assert image["bodySite"] == {"text": "left knee"}
    assert image["note"] == [{"text": "Wound, day 3"}]
    assert image["createdDateTime"] == "2024-05-02"
    assert image["content"]["contentType"] == "image/jpeg"
    assert (await local_docs.client.get(f"{BASE}/{image['content']['url']}")).content == jpeg


PDF_FILE = ("a.pdf", "sample.pdf", "application/pdf")
PATIENT = "{patient}"  # replaced by a real patient's id


@pytest.mark.parametrize(
    ("path", "fields", "file", "status"),
    [
        pytest.param("DocumentReference", {"category": "lab-report"}, PDF_FILE, 400, id="no-patient"),
        pytest.param("DocumentReference", {"patient": PATIENT, "category": "gossip"}, PDF_FILE, 400,
                     id="unknown-category"),
        pytest.param("DocumentReference", {"patient": PATIENT, "category": "other", "colour": "red"},
                     PDF_FILE, 400, id="unknown-field"),
        pytest.param("DocumentReference", {"patient": PATIENT, "category": "other", "date": "yesterday"},
                     PDF_FILE, 400, id="bad-date"),
        pytest.param("DocumentReference", {"patient": PATIENT, "category": "other"},
                     ("a.pdf", "elf_renamed.pdf", "application/pdf"), 415, id="executable"),
        pytest.param("Media", {"patient": PATIENT}, PDF_FILE, 415, id="pdf-is-no-image"),
        pytest.param("Media", {"patient": PATIENT}, ("a.svg", "image_with_script.svg", "image/svg+xml"), 415,
                     id="svg"),
        pytest.param("Media", {"patient": PATIENT, "encounter": "Encounter/nope"},
                     ("a.png", "sample.png", "image/png"), 400, id="unknown-encounter"),
    ],
)  # fmt: skip
async def test_refused_uploads_leave_nothing_behind(
    local_docs: DocumentsApp, path: str, fields: dict[str, str], file: tuple[str, str, str], status: int
) -> None:
    patient_id = await create_patient(local_docs.client)
    form = {name: patient_id if value == PATIENT else value for name, value in fields.items()}
    filename, sample_name, content_type = file
    response = await local_docs.client.post(
        f"{BASE}/{path}/$upload", data=form, files={"file": (filename, sample(sample_name), content_type)}
    )
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert local_docs.contents() == []
    assert await local_docs.count("Binary") == 0
    assert await local_docs.count(path) == 0


async def test_unknown_patient_and_missing_file_are_refused(local_docs: DocumentsApp) -> None:
    unknown = await local_docs.client.post(
        f"{BASE}/Media/$upload",
        data={"patient": "nobody"},
        files={"file": ("a.png", sample("sample.png"), "image/png")},
    )
    assert unknown.status_code == 400
    no_file = await local_docs.client.post(
        f"{BASE}/Media/$upload", data={"patient": "p"}, files={"other": ("x", b"y")}
    )
    assert no_file.status_code == 400
    not_multipart = await local_docs.client.post(
        f"{BASE}/Media/$upload", content=b"x", headers={"Content-Type": "image/png"}
    )
    assert not_multipart.status_code == 415
    assert local_docs.contents() == []


async def _multipart(boundary: str, patient_id: str, stream: GeneratedStream) -> AsyncIterator[bytes]:
    """A form whose file part is produced chunk by chunk (the test never holds it whole either)."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="patient"\r\n\r\n{patient_id}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="category"\r\n\r\nimaging-report\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    async for chunk in stream.chunks():
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


async def test_large_upload_is_streamed_through(local_docs: DocumentsApp) -> None:
    patient_id = await create_patient(local_docs.client)
    stream = GeneratedStream(total=3 * MIB)
    boundary = "b0undary7x"
    response = await local_docs.client.post(
        f"{BASE}/DocumentReference/$upload",
        content=_multipart(boundary, patient_id, stream),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 201, response.text
    attachment = response.json()["content"][0]["attachment"]
    assert attachment["size"] == 3 * MIB
    assert attachment["hash"] == base64.b64encode(stream.sha1.digest()).decode()
    raw = await local_docs.client.get(f"{BASE}/{attachment['url']}", headers={"Range": "bytes=0-7"})
    assert raw.content == b"%PDF-1.7"


async def test_upload_gets_a_binary_that_keeps_the_patient_as_security_context(
    local_docs: DocumentsApp,
) -> None:
    patient_id = await create_patient(local_docs.client)
    response = await local_docs.client.post(
        f"{BASE}/DocumentReference/$upload",
        data={"patient": patient_id, "category": "consent"},
        files={"file": ("consent.txt", sample("sample.txt"), "text/plain")},
    )
    url = response.json()["content"][0]["attachment"]["url"]
    binary = await local_docs.stored("Binary", url.removeprefix("Binary/"))
    assert binary["securityContext"] == {"reference": f"Patient/{patient_id}"}
    assert binary["contentType"] == "text/plain"
    assert sha1_b64(sample("sample.txt")) in str(binary["meta"])


async def test_upload_names_the_uploading_practitioner(app_factory: AppFactory) -> None:
    app = await app_factory(auth_enabled=True)
    token = make_dev_token(
        settings=app.state.settings,
        scope="user/Patient.crs user/DocumentReference.crs user/Media.crs",
        fhir_user="Practitioner/dr-1",
    )
    async with client_for(app, Authorization=f"Bearer {token}") as client:
        patient_id = await create_patient(client)
        document = await client.post(
            f"{BASE}/DocumentReference/$upload",
            data={"patient": patient_id, "category": "referral"},
            files={"file": ("referral.pdf", sample("sample.pdf"), "application/pdf")},
        )
        assert document.status_code == 201, document.text
        assert document.json()["author"] == [{"reference": "Practitioner/dr-1"}]
        image = await client.post(
            f"{BASE}/Media/$upload",
            data={"patient": patient_id},
            files={"file": ("x.png", sample("sample.png"), "image/png")},
        )
        assert image.json()["operator"] == {"reference": "Practitioner/dr-1"}
    reader = make_dev_token(settings=app.state.settings, scope="user/Patient.rs user/DocumentReference.rs")
    async with client_for(app, Authorization=f"Bearer {reader}") as client:
        refused = await client.post(
            f"{BASE}/DocumentReference/$upload",
            data={"patient": patient_id, "category": "referral"},
            files={"file": ("referral.pdf", sample("sample.pdf"), "application/pdf")},
        )
        assert refused.status_code == 403
