"""Clinic staff roles: the whole access policy for staff, as data, in one place.

A role is a named set of SMART scopes (what types and interactions) plus element rules (which parts
of a resource the role never sees nor writes). A user's role caps what any app may be granted on
that user's behalf: at authorization the requested scopes are narrowed to the role's
(``scopes.narrow_scopes``). Backend clients created ``--role lab`` get the same sets in the
``system/`` context. A scope may name ``{fhirUser}``: the account's (or backend client's) own FHIR
resource is put there, so "the lab's own orders" is ``ServiceRequest?performer=<the lab>``; without
a linked resource such a scope grants nothing.

``README-roles.md`` and the README's roles table are ``roles_markdown()`` (a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from fhir_server.auth.scopes import ADMIN_SCOPE, ClinicalScope, ScopeContext, parse_clinical_scope

FHIR_USER_PLACEHOLDER: Final = "{fhirUser}"
STAFF_ROLE_SYSTEM: Final = "http://clinic.example.org/fhir/CodeSystem/clinic-staff-role"
DOCUMENT_CATEGORY_SYSTEM: Final = "http://clinic.example.org/fhir/CodeSystem/clinic-document-category"

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
    "Media",  # wound and skin photographs
    "Binary",  # the bytes of those uploads
    "Flag",
    "Task",
)
LAB_FINDINGS: Final = ("Observation", "DiagnosticReport")
LAB_CONTEXT: Final = ("Practitioner", "PractitionerRole", "Organization")
# What reception may file: scans of identity papers and insurance cards (clinic document categories).
ADMINISTRATIVE_DOCUMENTS: Final = ("identification", "insurance")
# Enough of a patient to identify and bill them; nothing clinical (Patient has few clinical elements,
# but extensions and contacts can carry them).
BILLING_DEMOGRAPHICS: Final = (
    "identifier",
    "active",
    "name",
    "telecom",
    "gender",
    "birthDate",
    "address",
    "managingOrganization",
)


@dataclass(frozen=True)
class ElementRule:
    """What a role never sees nor writes of one resource type: ``hidden`` top-level elements, or
    everything but ``shown`` ones. A resource with anything hidden also loses its narrative
    (``text``), which may repeat what is hidden, and contained resources the role may not read."""

    hidden: tuple[str, ...] = ()
    shown: tuple[str, ...] | None = None
    why: str = ""


@dataclass(frozen=True)
class Role:
    name: str
    summary: str
    scopes: tuple[str, ...]  # in the user/ context; may name {fhirUser}
    elements: dict[str, ElementRule] = field(default_factory=dict)
    server_scopes: tuple[str, ...] = ()  # non-SMART scopes of this server the role may hold

    def clinical_scopes(
        self, context: ScopeContext = ScopeContext.USER, *, fhir_user: str | None = None
    ) -> tuple[ClinicalScope, ...]:
        """The role's scopes in ``context`` (``system`` for backend clients), ``{fhirUser}`` filled
        in; scopes naming ``{fhirUser}`` are left out when there is none."""
        return tuple(
            scope
            for scope in (
                parse_clinical_scope(text) for text in self.scope_texts(context, fhir_user=fhir_user)
            )
            if scope is not None
        )

    def scope_texts(
        self, context: ScopeContext = ScopeContext.USER, *, fhir_user: str | None = None
    ) -> list[str]:
        texts = []
        for scope in self.scopes:
            moved = f"{context}/{scope.split('/', 1)[1]}"
            if FHIR_USER_PLACEHOLDER in moved:
                if fhir_user is None:
                    continue
                moved = moved.replace(FHIR_USER_PLACEHOLDER, fhir_user)
            texts.append(moved)
        return texts

    @property
    def needs_fhir_user(self) -> bool:
        return any(FHIR_USER_PLACEHOLDER in scope for scope in self.scopes)


def _each(types: tuple[str, ...], permissions: str, query: str = "") -> tuple[str, ...]:
    suffix = f"?{query}" if query else ""
    return tuple(f"user/{resource_type}.{permissions}{suffix}" for resource_type in types)


NO_REASONS: Final = "reasons and diagnoses are clinical"
ROLES: Final[dict[str, Role]] = {
    role.name: role
    for role in (
        Role(
            "admin",
            "Everything, including deletes; administers accounts and apps.",
            ("user/*.cruds",),
            server_scopes=(ADMIN_SCOPE,),
        ),
        Role("doctor", "Reads, creates and updates everything; no deletes.", ("user/*.crus",)),
        Role(
            "nurse",
            "Reads everything; records observations and nursing care, uploads images and documents, "
            "schedules, updates demographics.",
            ("user/*.rs", *_each(NURSING, "cu"), *_each(SCHEDULING, "cu"), *_each(DEMOGRAPHICS[:2], "cu")),
        ),
        Role(
            "receptionist",
            "Scheduling, demographics, insurance coverage; files identity and insurance scans. "
            "Never sees reasons or diagnoses.",
            (
                *_each(DEMOGRAPHICS, "crus"),
                *_each(SCHEDULING, "cruds"),
                "user/Coverage.crus",
                *(
                    f"user/DocumentReference.crus?category={DOCUMENT_CATEGORY_SYSTEM}|{category}"
                    for category in ADMINISTRATIVE_DOCUMENTS
                ),
                "user/Binary.c",  # upload only: a Binary's bytes are guarded by patient, not by category
            ),
            elements={
                "Appointment": ElementRule(hidden=("reasonCode", "reasonReference"), why=NO_REASONS),
                "Encounter": ElementRule(
                    hidden=("reasonCode", "reasonReference", "diagnosis"), why=NO_REASONS
                ),
                "EpisodeOfCare": ElementRule(hidden=("diagnosis",), why=NO_REASONS),
            },
        ),
        Role(
            "accountant",
            "Finance resources, and the demographics needed to bill a patient; never diagnoses.",
            (*_each(FINANCE, "cruds"), "user/Patient.rs", "user/Organization.rs"),
            elements={
                "Patient": ElementRule(shown=BILLING_DEMOGRAPHICS, why="billing needs identity only"),
                "Claim": ElementRule(hidden=("diagnosis",), why="diagnoses are clinical"),
                "ExplanationOfBenefit": ElementRule(hidden=("diagnosis",), why="diagnoses are clinical"),
                "ChargeItem": ElementRule(hidden=("reason",), why="the reason is a diagnosis"),
            },
        ),
        Role(
            "lab",
            "Reads the orders addressed to it and writes and reads its own results (performer = the "
            "account's Practitioner or Organization); specimens; patients' identities.",
            (
                *_each(LAB_FINDINGS, "crus", f"performer={FHIR_USER_PLACEHOLDER}"),
                f"user/ServiceRequest.rs?performer={FHIR_USER_PLACEHOLDER}",
                "user/Specimen.crus",
                "user/Patient.rs",
                *_each(LAB_CONTEXT, "rs"),
            ),
            elements={"Patient": ElementRule(shown=BILLING_DEMOGRAPHICS, why="identity only")},
        ),
    )
}


def role_names() -> list[str]:
    return list(ROLES)


def role_of_code(system: str | None, code: str | None) -> str | None:
    """The clinic role a PractitionerRole ``code`` coding names, if any."""
    if system == STAFF_ROLE_SYSTEM and code in ROLES:
        return code
    return None


def _element_text(role: Role) -> str:
    parts = []
    for resource_type, rule in role.elements.items():
        if rule.shown is not None:
            parts.append(f"{resource_type}: only {', '.join(rule.shown)}")
        else:
            parts.append(f"{resource_type}: no {', '.join(rule.hidden)}")
    return "; ".join(parts) or "-"


def roles_markdown() -> str:
    """The roles table for the README."""
    lines = [
        "| role | what it may do | scopes (user context; `system/` for backend clients) "
        "| elements filtered out |",
        "| --- | --- | --- | --- |",
    ]
    for role in ROLES.values():
        # A "|" inside a table cell must be escaped, even in code.
        scopes = " ".join(f"`{scope}`".replace("|", "\\|") for scope in (*role.scopes, *role.server_scopes))
        lines.append(f"| {role.name} | {role.summary} | {scopes} | {_element_text(role)} |")
    return "\n".join(lines) + "\n"
