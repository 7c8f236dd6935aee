"""Clinical documents (clinic-documentreference) and patient images (clinic-media).

The bytes travel inline (``data``: the attachment's base64) or are already stored (``url``, e.g.
``Binary/123``). The server moves inline bytes to its blob store on write, so a document read back
from the server has a ``url`` and no ``data``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, AwareDatetime, model_validator

from mappers import terms
from mappers.common import (
    DOCUMENT,
    IMAGE,
    PATIENT,
    PRACTITIONER,
    VISIT,
    JsonDict,
    Key,
    MappingError,
    Record,
    Text,
    as_list,
    compact,
    concept,
    first,
    identifier,
    new_resource,
    note,
    optional_reference,
    optional_referenced_key,
    own_key,
    read_note,
    record_id,
    reference,
    referenced_key,
    required_code,
    single,
    string,
    text_concept,
    text_of,
)
from mappers.values import datetime_text, read_datetime, read_optional_datetime

DocumentCategory = Literal[
    "clinical-note", "lab-report", "imaging-report", "prescription", "referral", "discharge-summary",
    "consent", "insurance", "identification", "other",
]  # fmt: skip
DocumentStatus = Literal["current", "superseded", "entered-in-error"]
ImageStatus = Literal[
    "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"
]

# The clinic-document-content-type and clinic-image-content-type value sets.
DOCUMENT_CONTENT_TYPES: Final = frozenset(
    {
        "application/pdf",
        "text/plain",
        "application/xml",
        "application/fhir+json",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "application/dicom",
    }
)
IMAGE_CONTENT_TYPES: Final = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
        "image/heic",
        "application/dicom",
    }
)


def essence(content_type: str) -> str:
    """``type/subtype`` in lower case, without parameters (``; charset=...``)."""
    return content_type.split(";", 1)[0].strip().lower()


def _allowed(choices: frozenset[str]) -> AfterValidator:
    def check(value: str) -> str:
        if essence(value) not in choices:
            raise ValueError(f"must be one of {', '.join(sorted(choices))}")
        return value

    return AfterValidator(check)


DocumentContentType = Annotated[str, _allowed(DOCUMENT_CONTENT_TYPES)]
ImageContentType = Annotated[str, _allowed(IMAGE_CONTENT_TYPES)]


class _Content(Record):
    """The bytes (``data``) or where they are stored (``url``), exactly one of them."""

    data: bytes | None = None
    url: Text | None = None
    title: Text | None = None  # the file name

    @model_validator(mode="after")
    def _one_source(self) -> _Content:
        if (self.data is None) == (self.url is None):
            raise ValueError("give the content's data or its url, not both")
        if self.data is not None and not self.data:
            raise ValueError("data must not be empty")
        return self


class ClinicalDocument(_Content):
    """A clinical document of ``patient`` (MRN): a lab report, a referral, a consent ..."""

    key: Key
    patient: Key
    category: DocumentCategory
    content_type: DocumentContentType
    date: AwareDatetime
    description: Text | None = None
    author: Key | None = None  # staff number
    visit: Key | None = None
    status: DocumentStatus = "current"


class PatientImage(_Content):
    """A picture of ``patient`` (MRN): a photo, a scan; ``taken`` when, ``body_site`` of what."""

    key: Key
    patient: Key
    content_type: ImageContentType
    taken: AwareDatetime | None = None
    body_site: Text | None = None
    visit: Key | None = None
    status: ImageStatus = "completed"
    note: Text | None = None


def _attachment(content: _Content, content_type: str) -> JsonDict:
    data = base64.b64encode(content.data).decode("ascii") if content.data is not None else None
    return compact({"contentType": content_type, "data": data, "url": content.url, "title": content.title})


def _content_fields(attachment: Any, where: str) -> dict[str, Any]:
    if not isinstance(attachment, dict):
        raise MappingError(f"{where} is missing")
    data = attachment.get("data")
    try:
        decoded = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except binascii.Error:
        raise MappingError(f"{where}.data is not valid base64") from None
    return {
        "content_type": string(attachment, "contentType"),
        "data": decoded,
        "url": None if decoded is not None else string(attachment, "url"),
        "title": string(attachment, "title"),
    }


def document_to_fhir(document: ClinicalDocument) -> JsonDict:
    """The clinic-documentreference."""
    visit = optional_reference(VISIT, document.visit)
    return new_resource(
        "DocumentReference",
        record_id(DOCUMENT, document.key),
        terms.PROFILE_DOCUMENT,
        identifier=[identifier(DOCUMENT, document.key)],
        status=document.status,
        category=[concept(terms.CS_DOCUMENT_CATEGORY, document.category)],
        subject=reference(PATIENT, document.patient),
        date=datetime_text(document.date),
        author=[optional_reference(PRACTITIONER, document.author)],
        description=document.description,
        content=[{"attachment": _attachment(document, document.content_type)}],
        context={"encounter": [visit]} if visit else None,
    )


def image_to_fhir(image: PatientImage) -> JsonDict:
    """The clinic-media (type ``image``)."""
    return new_resource(
        "Media",
        record_id(IMAGE, image.key),
        terms.PROFILE_MEDIA,
        identifier=[identifier(IMAGE, image.key)],
        status=image.status,
        type=concept(terms.CS_MEDIA_TYPE, "image"),
        subject=reference(PATIENT, image.patient),
        encounter=optional_reference(VISIT, image.visit),
        createdDateTime=datetime_text(image.taken),
        bodySite=text_concept(image.body_site),
        content=_attachment(image, image.content_type),
        note=note(image.note),
    )


def to_fhir(record: ClinicalDocument | PatientImage) -> JsonDict:
    """The DocumentReference of a clinical document or the Media of a patient image."""
    return document_to_fhir(record) if isinstance(record, ClinicalDocument) else image_to_fhir(record)


def document_from_fhir(resources: JsonDict | Sequence[JsonDict]) -> ClinicalDocument:
    """The ClinicalDocument of a clinic-documentreference (its first attachment)."""
    document = single(as_list(resources), "DocumentReference")
    content = first(document, "content")
    context = document.get("context")
    encounter = first(context, "encounter") if isinstance(context, dict) else None
    return ClinicalDocument.model_validate(
        {
            "key": own_key(document, DOCUMENT),
            "patient": referenced_key(document.get("subject"), PATIENT, "DocumentReference.subject"),
            "category": required_code(
                first(document, "category"), terms.CS_DOCUMENT_CATEGORY, "DocumentReference.category"
            ),
            "date": read_datetime(document.get("date"), "DocumentReference.date"),
            "description": string(document, "description"),
            "author": optional_referenced_key(
                first(document, "author"), PRACTITIONER, "DocumentReference.author"
            ),
            "visit": optional_referenced_key(encounter, VISIT, "DocumentReference.context.encounter"),
            "status": string(document, "status"),
            **_content_fields(
                content.get("attachment") if isinstance(content, dict) else None,
                "DocumentReference.content.attachment",
            ),
        }
    )


def image_from_fhir(resources: JsonDict | Sequence[JsonDict]) -> PatientImage:
    """The PatientImage of a clinic-media."""
    media = single(as_list(resources), "Media")
    return PatientImage.model_validate(
        {
            "key": own_key(media, IMAGE),
            "patient": referenced_key(media.get("subject"), PATIENT, "Media.subject"),
            "taken": read_optional_datetime(media.get("createdDateTime"), "Media.createdDateTime"),
            "body_site": text_of(media.get("bodySite")),
            "visit": optional_referenced_key(media.get("encounter"), VISIT, "Media.encounter"),
            "status": string(media, "status"),
            "note": read_note(media),
            **_content_fields(media.get("content"), "Media.content"),
        }
    )


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> ClinicalDocument | PatientImage:
    """The ClinicalDocument of a DocumentReference or the PatientImage of a Media."""
    items = as_list(resources)
    if any(item.get("resourceType") == "Media" for item in items):
        return image_from_fhir(items)
    return document_from_fhir(items)
