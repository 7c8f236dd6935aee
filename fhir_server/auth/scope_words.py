"""What each scope lets an app do, in plain words, for the consent page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from fhir_server.auth.scopes import (
    ADMIN_SCOPE,
    ClinicalScope,
    ScopeContext,
    ScopeSyntaxError,
    parse_clinical_scope,
)

LAUNCH_WORDS: Final[dict[str, str]] = {
    "openid": "Know that it is you who signed in.",
    "fhirUser": "Know who you are in the clinic's records (your staff record).",
    "profile": "Know your name.",
    "launch": "Open with the patient or visit you are working on in the clinic's system.",
    "launch/patient": "Know which patient you choose below.",
    "launch/encounter": "Know which visit you are working on.",
    "offline_access": "Keep access after you close it, until you sign out of it or access is revoked.",
    "online_access": "Keep access while you are using it.",
    ADMIN_SCOPE: "Administer user accounts and apps (create, disable, change roles, reset passwords).",
}
# Names people use, where the resource type's own name is not one.
TYPE_WORDS: Final[dict[str, str]] = {
    "AllergyIntolerance": "allergies",
    "Appointment": "appointments",
    "Binary": "uploaded files",
    "CarePlan": "care plans",
    "Claim": "insurance claims",
    "Condition": "diagnoses and problems",
    "Coverage": "insurance coverage",
    "DiagnosticReport": "test and imaging reports",
    "DocumentReference": "documents",
    "Encounter": "visits",
    "ExplanationOfBenefit": "insurance decisions",
    "Immunization": "vaccinations",
    "Invoice": "invoices, expenses and incomes",
    "Media": "photos and images",
    "MedicationRequest": "prescriptions",
    "MedicationAdministration": "medicines given",
    "Observation": "measurements and test results",
    "Patient": "patient details (name, birth date, contacts)",
    "Practitioner": "staff details",
    "PractitionerRole": "staff roles",
    "Procedure": "procedures",
    "ServiceRequest": "orders and referrals",
    "Slot": "free appointment times",
    "Schedule": "schedules",
}
PERMISSION_WORDS: Final[tuple[tuple[str, str], ...]] = (
    ("r", "read"),
    ("s", "search"),
    ("c", "add"),
    ("u", "change"),
    ("d", "delete"),
)
WHOSE: Final[dict[ScopeContext, str]] = {
    ScopeContext.PATIENT: "of the chosen patient only",
    ScopeContext.USER: "of every patient you may see",
    ScopeContext.SYSTEM: "of every patient",
}


def type_words(resource_type: str) -> str:
    if resource_type == "*":
        return "all records"
    if resource_type in TYPE_WORDS:
        return TYPE_WORDS[resource_type]
    spaced = re.sub(r"(?<!^)(?=[A-Z])", " ", resource_type).lower()
    return spaced + ("" if spaced.endswith("s") else "s")


def _verbs(scope: ClinicalScope) -> str:
    verbs = [word for letter, word in PERMISSION_WORDS if letter in scope.permissions]
    if len(verbs) == 1:
        return verbs[0].capitalize()
    return (", ".join(verbs[:-1]) + " and " + verbs[-1]).capitalize()


def clinical_words(scope: ClinicalScope) -> str:
    text = f"{_verbs(scope)} {type_words(scope.resource_type)} {WHOSE[scope.context]}"
    if scope.query:
        conditions = " and ".join(
            f"{name.replace('-', ' ')} is {value.split('|')[-1]}" for name, value in scope.query
        )
        text += f", only where {conditions}"
    return text + "."


def scope_words(scope: str) -> str:
    """One sentence for one scope (unknown ones are shown as they are)."""
    if scope in LAUNCH_WORDS:
        return LAUNCH_WORDS[scope]
    try:
        parsed = parse_clinical_scope(scope)
    except ScopeSyntaxError:
        return scope
    return clinical_words(parsed) if parsed is not None else scope


def describe(scopes: Iterable[str]) -> list[tuple[str, str]]:
    """(sentence, scope) pairs, data access first."""
    pairs = [(scope_words(scope), scope) for scope in scopes]
    return sorted(pairs, key=lambda pair: pair[1] in LAUNCH_WORDS)
