"""The fields of a ``$upload`` form, checked, and the resource they describe.

Form fields (all text; unknown ones are refused):

==============  ==============================================================================
``file``        the file (required); its part's Content-Type is checked against its bytes
``patient``     ``Patient/<id>`` or ``<id>`` (required): the subject
``category``    a clinic document category code (DocumentReference: required; see
                ``CodeSystem/clinic-document-category``)
``type``        the document type (DocumentReference) as ``system|code`` or plain text
``modality``    the imaging modality (Media) as ``system|code`` or plain text
``bodySite``    the body site (Media) as ``system|code`` or plain text
``encounter``   ``Encounter/<id>`` or ``<id>``
``date``        when the document was written or the image taken (FHIR date or dateTime):
                DocumentReference ``content.attachment.creation``, Media ``createdDateTime``
``description`` DocumentReference ``description``, Media ``note``
``title``       the attachment's title (default: the file's name, reduced to a safe name)
==============  ==============================================================================

The resources claim and satisfy the clinic profiles (clinic-documentreference, clinic-media).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Final, Protocol

from fhir_server.conformance.profiles import ConformanceResources
from fhir_server.errors import BadRequest
from fhir_server.resources import ID_PATTERN
from fhir_server.store.repository import instant

JsonDict = dict[str, Any]

DOCUMENT_PROFILE: Final = "http://clinic.example.org/fhir/StructureDefinition/clinic-documentreference"
MEDIA_PROFILE: Final = "http://clinic.example.org/fhir/StructureDefinition/clinic-media"
CATEGORY_SYSTEM: Final = "http://clinic.example.org/fhir/CodeSystem/clinic-document-category"
MEDIA_TYPE_IMAGE: Final = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image", "display": "Image"}
    ]
}
# Who may be named as a document's author / an image's operator (the base definitions' targets).
AUTHOR_TYPES: Final = frozenset(
    {"Practitioner", "PractitionerRole", "Organization", "Device", "Patient", "RelatedPerson"}
)
OPERATOR_TYPES: Final = frozenset(
    {"Practitioner", "PractitionerRole", "Organization", "CareTeam", "Patient", "Device", "RelatedPerson"}
)
FIELDS: Final = frozenset(
    {"patient", "category", "type", "modality", "bodySite", "encounter", "date", "description", "title"}
)
_DATE_TIME: Final = re.compile(
    r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])"
    r"(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?",
    re.ASCII,
)


@cache
def document_categories() -> dict[str, str]:
    """Code -> display of the clinic's document categories (read once from ``profiles/``)."""
    code_system = ConformanceResources.from_directories().by_url(CATEGORY_SYSTEM) or {}
    return {
        concept["code"]: concept.get("display", concept["code"]) for concept in code_system.get("concept", [])
    }


@dataclass(frozen=True)
class UploadForm:
    patient: str  # "Patient/<id>"
    category: str | None = None
    type: JsonDict | None = None
    modality: JsonDict | None = None
    body_site: JsonDict | None = None
    encounter: str | None = None
    date: str | None = None
    description: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class StoredFile:
    """The uploaded file as the attachment will describe it."""

    content_type: str
    url: str
    size: int
    sha1_base64: str
    title: str | None


def _reference(value: str | None, resource_type: str, field: str) -> str | None:
    if value is None:
        return None
    resource_id = value.strip().removeprefix(f"{resource_type}/")
    if not ID_PATTERN.match(resource_id):
        raise BadRequest(f"The form field '{field}' must be {resource_type}/<id> or <id>.", (field,))
    return f"{resource_type}/{resource_id}"


def _concept(value: str | None) -> JsonDict | None:
    if value is None:
        return None
    system, separator, code = value.strip().partition("|")
    if separator and system and code:
        return {"coding": [{"system": system, "code": code}]}
    return {"text": value.strip()}


def _date(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not _DATE_TIME.fullmatch(text):
        raise BadRequest("The form field 'date' must be a FHIR date or dateTime (2024-05-01).", ("date",))
    return text


def _text(value: str | None) -> str | None:
    """The trimmed value; a blank field counts as absent."""
    if value is None:
        return None
    return value.strip() or None


def parse_form(fields: dict[str, str], *, resource_type: str) -> UploadForm:
    """Check the form's text fields; 400 naming the field that is wrong."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise BadRequest(f"Unknown form field '{unknown[0]}'.", (unknown[0],))
    patient = _reference(fields.get("patient"), "Patient", "patient")
    if patient is None:
        raise BadRequest("The form field 'patient' is required.", ("patient",))
    category = _text(fields.get("category"))
    if resource_type == "DocumentReference":
        category = category.removeprefix(f"{CATEGORY_SYSTEM}|") if category else None
        if category not in document_categories():
            codes = ", ".join(document_categories())
            raise BadRequest(f"The form field 'category' must be one of: {codes}.", ("category",))
    elif category is not None:
        raise BadRequest("A Media upload has no 'category' field.", ("category",))
    return UploadForm(
        patient=patient,
        category=category,
        type=_concept(_text(fields.get("type"))),
        modality=_concept(_text(fields.get("modality"))),
        body_site=_concept(_text(fields.get("bodySite"))),
        encounter=_reference(_text(fields.get("encounter")), "Encounter", "encounter"),
        date=_date(_text(fields.get("date"))),
        description=_text(fields.get("description")),
        title=_text(fields.get("title")),
    )


def _attachment(file: StoredFile) -> JsonDict:
    attachment: JsonDict = {
        "contentType": file.content_type,
        "url": file.url,
        "size": file.size,
        "hash": file.sha1_base64,
    }
    if file.title:
        attachment["title"] = file.title
    return attachment


def _actor(fhir_user: str | None, allowed: frozenset[str]) -> list[JsonDict]:
    if fhir_user and fhir_user.split("/", 1)[0] in allowed:
        return [{"reference": fhir_user}]
    return []


def _without_empty(resource: JsonDict) -> JsonDict:
    return {key: value for key, value in resource.items() if value not in (None, [], {})}


def document_reference(form: UploadForm, file: StoredFile, *, author: str | None, now: datetime) -> JsonDict:
    assert form.category is not None
    category = {
        "coding": [
            {
                "system": CATEGORY_SYSTEM,
                "code": form.category,
                "display": document_categories()[form.category],
            }
        ]
    }
    attachment = _attachment(file)
    if form.date:
        attachment["creation"] = form.date
    return _without_empty(
        {
            "resourceType": "DocumentReference",
            "meta": {"profile": [DOCUMENT_PROFILE]},
            "status": "current",
            "type": form.type,
            "category": [category],
            "subject": {"reference": form.patient},
            "date": instant(now),
            "author": _actor(author, AUTHOR_TYPES),
            "description": form.description,
            "content": [{"attachment": attachment}],
            "context": {"encounter": [{"reference": form.encounter}]} if form.encounter else None,
        }
    )


def media(form: UploadForm, file: StoredFile, *, author: str | None, now: datetime) -> JsonDict:
    return _without_empty(
        {
            "resourceType": "Media",
            "meta": {"profile": [MEDIA_PROFILE]},
            "status": "completed",
            "type": MEDIA_TYPE_IMAGE,
            "modality": form.modality,
            "subject": {"reference": form.patient},
            "encounter": {"reference": form.encounter} if form.encounter else None,
            "createdDateTime": form.date,
            "issued": instant(now),
            "operator": next(iter(_actor(author, OPERATOR_TYPES)), None),
            "bodySite": form.body_site,
            "note": [{"text": form.description}] if form.description else None,
            "content": _attachment(file),
        }
    )


class Builder(Protocol):
    def __call__(
        self, form: UploadForm, file: StoredFile, *, author: str | None, now: datetime
    ) -> JsonDict: ...


BUILDERS: Final[dict[str, Builder]] = {"DocumentReference": document_reference, "Media": media}
