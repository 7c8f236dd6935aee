"""Clinic concepts recognised by content: which clinic profile a resource *is*, declared or not.

An Invoice whose ``type`` carries the clinic's invoice kind is an expense or an income; a
PractitionerRole coded from the clinic's staff roles is a staff role; a Patient with the clinic's
MRN, a Practitioner with a staff number, a Procedure tied to an appointment by the clinic's
extension, a DocumentReference in a clinic document category and an Appointment for a clinic
specialty are the clinic's too. Each is validated against that profile, and the profile is
recorded in ``meta.profile``. Resources with none of these marks are not the clinic's concepts
(lab results, Synthea data ...) and keep the base rules only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

JsonDict = dict[str, Any]
CLINIC: Final = "http://clinic.example.org/fhir"
PROFILE: Final = f"{CLINIC}/StructureDefinition/"
CODE_SYSTEM: Final = f"{CLINIC}/CodeSystem/"
MRN: Final = f"{CLINIC}/sid/mrn"
STAFF_NUMBER: Final = f"{CLINIC}/sid/staff"


def _items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _codings(resource: JsonDict, element: str) -> Iterator[JsonDict]:
    for concept in _items(resource.get(element)):
        if isinstance(concept, dict):
            yield from (c for c in _items(concept.get("coding")) if isinstance(c, dict))


def _has_system(element: str, system: str) -> Callable[[JsonDict], bool]:
    return lambda resource: any(c.get("system") == system for c in _codings(resource, element))


def _has_identifier(system: str) -> Callable[[JsonDict], bool]:
    return lambda resource: any(
        isinstance(i, dict) and i.get("system") == system for i in _items(resource.get("identifier"))
    )


def _has_extension(*urls: str) -> Callable[[JsonDict], bool]:
    wanted = {PROFILE + url for url in urls}
    return lambda resource: any(
        isinstance(e, dict) and isinstance(e.get("url"), str) and e["url"] in wanted
        for e in _items(resource.get("extension"))
    )


def _invoice_kind(kind: str, *extensions: str) -> Callable[[JsonDict], bool]:
    by_extension = _has_extension(*extensions)
    return lambda invoice: (
        by_extension(invoice)
        or any(
            c.get("system") == CODE_SYSTEM + "clinic-invoice-kind" and c.get("code") == kind
            for c in _codings(invoice, "type")
        )
    )


# resource type -> (test, clinic profile); the first test that holds names the profile.
DETECTORS: Final[dict[str, list[tuple[Callable[[JsonDict], bool], str]]]] = {
    "Invoice": [
        (_invoice_kind("expense", "expense-category", "expense-reason"), "clinic-invoice-expense"),
        (_invoice_kind("income", "income-source"), "clinic-invoice-income"),
    ],
    "PractitionerRole": [(_has_system("code", CODE_SYSTEM + "clinic-staff-role"), "clinic-practitionerrole")],
    "Patient": [(_has_identifier(MRN), "clinic-patient")],
    "Practitioner": [(_has_identifier(STAFF_NUMBER), "clinic-practitioner")],
    "Procedure": [(_has_extension("procedure-appointment"), "clinic-procedure")],
    "DocumentReference": [
        (_has_system("category", CODE_SYSTEM + "clinic-document-category"), "clinic-documentreference")
    ],
    "Appointment": [(_has_system("specialty", CODE_SYSTEM + "clinic-specialty"), "clinic-appointment")],
}


def clinic_profile(resource: JsonDict) -> str | None:
    """The canonical URL of the clinic profile the resource's content makes it an instance of."""
    for test, profile in DETECTORS.get(str(resource.get("resourceType")), ()):
        if test(resource):
            return PROFILE + profile
    return None
