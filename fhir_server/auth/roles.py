"""Clinic staff roles as named sets of SMART scopes.

A user's role caps what any app may be granted on that user's behalf: at authorization the
requested scopes are narrowed to the role's (``scopes.narrow_scopes``). Backend clients created
``--role lab`` get the same sets in the ``system/`` context. ``README-roles.md`` is this table
rendered by ``roles_markdown()`` (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fhir_server.auth.scopes import ClinicalScope, ScopeContext, parse_clinical_scope

DEMOGRAPHICS: Final = (
    "Patient",
    "RelatedPerson",
    "Person",
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "Location",
    "HealthcareService",
)
SCHEDULING: Final = ("Appointment", "AppointmentResponse", "Schedule", "Slot", "Encounter", "EpisodeOfCare")
FINANCE: Final = (
    "Invoice",
    "ChargeItem",
    "ChargeItemDefinition",
    "Account",
    "PaymentNotice",
    "PaymentReconciliation",
    "Claim",
    "ClaimResponse",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "ExplanationOfBenefit",
)
NURSING: Final = (
    "Observation",
    "MedicationAdministration",
    "Procedure",
    "AllergyIntolerance",
    "Immunization",
    "CarePlan",
    "Goal",
    "Communication",
    "QuestionnaireResponse",
    "Specimen",
    "DocumentReference",
    "Flag",
    "Task",
)
LAB_RESULTS: Final = ("Observation", "DiagnosticReport", "Specimen")
LAB_CONTEXT: Final = ("Patient", "ServiceRequest", "Practitioner", "PractitionerRole", "Organization")


@dataclass(frozen=True)
class Role:
    name: str
    summary: str
    scopes: tuple[str, ...]  # in the user/ context

    def clinical_scopes(self, context: ScopeContext = ScopeContext.USER) -> tuple[ClinicalScope, ...]:
        """The role's scopes, moved to ``context`` (``system`` for backend clients)."""
        moved = (f"{context}/{scope.split('/', 1)[1]}" for scope in self.scopes)
        parsed = (parse_clinical_scope(text) for text in moved)
        return tuple(scope for scope in parsed if scope is not None)


def _each(types: tuple[str, ...], permissions: str) -> tuple[str, ...]:
    return tuple(f"user/{resource_type}.{permissions}" for resource_type in types)


ROLES: Final[dict[str, Role]] = {
    role.name: role
    for role in (
        Role("admin", "Everything, including deletes.", ("user/*.cruds",)),
        Role("doctor", "Reads, creates and updates everything; no deletes.", ("user/*.crus",)),
        Role(
            "nurse",
            "Reads everything; creates and updates nursing records, scheduling and demographics.",
            ("user/*.rs", *_each(NURSING, "cu"), *_each(SCHEDULING, "cu"), *_each(DEMOGRAPHICS[:2], "cu")),
        ),
        Role(
            "receptionist",
            "Scheduling and demographics (and insurance coverage); no clinical data or notes.",
            (*_each(DEMOGRAPHICS, "crus"), *_each(SCHEDULING, "cruds"), "user/Coverage.crus"),
        ),
        Role("accountant", "Finance resources only.", _each(FINANCE, "cruds")),
        Role(
            "lab",
            "Submits Observation, DiagnosticReport and Specimen; reads the patients and orders it needs.",
            (*_each(LAB_RESULTS, "crus"), *_each(LAB_CONTEXT, "rs")),
        ),
    )
}


def role_names() -> list[str]:
    return list(ROLES)


def roles_markdown() -> str:
    """The roles table for the README."""
    lines = [
        "| role | what it may do | scopes (user context; `system/` for backend clients) |",
        "| --- | --- | --- |",
    ]
    for role in ROLES.values():
        scopes = " ".join(f"`{scope}`" for scope in role.scopes)
        lines.append(f"| {role.name} | {role.summary} | {scopes} |")
    return "\n".join(lines) + "\n"
