"""The clinic roles as a table: role x resource x interaction -> allowed or denied, through the real
gate (``ScopeGate`` on the real search indexer) with each role's scopes as a sign-in grants them.

A cell lists the interactions allowed on that resource (``r`` read, ``s`` found by a search, ``c``
create, ``u`` update, ``d`` delete); every other interaction must be refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import pytest

from fhir_server.auth.facts import IndexerFacts
from fhir_server.auth.gate import ScopeGate
from fhir_server.auth.roles import DOCUMENT_CATEGORY_SYSTEM, ROLES
from fhir_server.context import Interaction, Principal, RequestContext
from fhir_server.errors import Forbidden

LAB: Final = "Organization/lab-1"
OTHER_LAB: Final = "Organization/lab-2"
STAFF: Final = "Practitioner/staff-1"
SUBJECT: Final = {"reference": "Patient/p1"}


def _document(category: str) -> dict[str, Any]:
    coding = {"system": DOCUMENT_CATEGORY_SYSTEM, "code": category}
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "category": [{"coding": [coding]}],
        "subject": SUBJECT,
        "content": [{"attachment": {"url": "Binary/b1"}}],
    }


RESOURCES: Final[dict[str, dict[str, Any]]] = {
    "Patient": {"resourceType": "Patient", "name": [{"family": "Doe"}]},
    "Practitioner": {"resourceType": "Practitioner", "name": [{"family": "Who"}]},
    "Appointment": {
        "resourceType": "Appointment",
        "status": "booked",
        "participant": [{"status": "accepted"}],
    },
    "Encounter": {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": SUBJECT,
    },
    "Condition": {"resourceType": "Condition", "code": {"text": "Asthma"}, "subject": SUBJECT},
    "Observation by the lab": {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Hb"},
        "subject": SUBJECT,
        "performer": [{"reference": LAB}],
    },
    "Observation by others": {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "BP"},
        "subject": SUBJECT,
        "performer": [{"reference": OTHER_LAB}],
    },
    "DiagnosticReport by the lab": {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "CBC"},
        "subject": SUBJECT,
        "performer": [{"reference": LAB}],
    },
    "DiagnosticReport by others": {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "CT"},
        "subject": SUBJECT,
        "performer": [{"reference": OTHER_LAB}],
    },
    "ServiceRequest to the lab": {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": SUBJECT,
        "performer": [{"reference": LAB}],
    },
    "ServiceRequest to others": {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": SUBJECT,
        "performer": [{"reference": OTHER_LAB}],
    },
    "Specimen": {"resourceType": "Specimen", "subject": SUBJECT},
    "DocumentReference: insurance card": _document("insurance"),
    "DocumentReference: clinical note": _document("clinical-note"),
    "Media (wound photo)": {
        "resourceType": "Media",
        "status": "completed",
        "subject": SUBJECT,
        "content": {"url": "Binary/b2"},
    },
    "Binary": {"resourceType": "Binary", "contentType": "image/png", "securityContext": SUBJECT},
    "Invoice": {"resourceType": "Invoice", "status": "issued", "subject": SUBJECT},
    "Claim": {"resourceType": "Claim", "status": "active", "patient": SUBJECT},
    "Coverage": {"resourceType": "Coverage", "status": "active", "beneficiary": SUBJECT},
}

ROLE_ORDER: Final = ("admin", "doctor", "nurse", "receptionist", "accountant", "lab")
# resource:                              admin    doctor  nurse   recept.  account. lab
TABLE: Final[dict[str, tuple[str, ...]]] = {
    "Patient":                           ("rscud", "rscu", "rscu", "rscu",  "rs",     "rs"),
    "Practitioner":                      ("rscud", "rscu", "rs",   "rscu",  "",       "rs"),
    "Appointment":                       ("rscud", "rscu", "rscu", "rscud", "",       ""),
    "Encounter":                         ("rscud", "rscu", "rscu", "rscud", "",       ""),
    "Condition":                         ("rscud", "rscu", "rs",   "",      "",       ""),
    "Observation by the lab":            ("rscud", "rscu", "rscu", "",      "",       "rscu"),
    "Observation by others":             ("rscud", "rscu", "rscu", "",      "",       ""),
    "DiagnosticReport by the lab":       ("rscud", "rscu", "rs",   "",      "",       "rscu"),
    "DiagnosticReport by others":        ("rscud", "rscu", "rs",   "",      "",       ""),
    "ServiceRequest to the lab":         ("rscud", "rscu", "rs",   "",      "",       "rs"),
    "ServiceRequest to others":          ("rscud", "rscu", "rs",   "",      "",       ""),
    "Specimen":                          ("rscud", "rscu", "rscu", "",      "",       "rscu"),
    "DocumentReference: insurance card": ("rscud", "rscu", "rscu", "rscu",  "",       ""),
    "DocumentReference: clinical note":  ("rscud", "rscu", "rscu", "",      "",       ""),
    "Media (wound photo)":               ("rscud", "rscu", "rscu", "",      "",       ""),
    "Binary":                            ("rscud", "rscu", "rscu", "c",     "",       ""),
    "Invoice":                           ("rscud", "rscu", "rs",   "",      "rscud",  ""),
    "Claim":                             ("rscud", "rscu", "rs",   "",      "rscud",  ""),
    "Coverage":                          ("rscud", "rscu", "rs",   "rscu",  "rscud",  ""),
}  # fmt: skip


@pytest.fixture(scope="module")
def gate() -> ScopeGate:
    return ScopeGate(IndexerFacts())


def role_ctx(role: str) -> RequestContext:
    fhir_user = LAB if role == "lab" else STAFF
    principal = Principal(
        subject=f"{role}-user",
        client_id="app",
        scopes=frozenset(ROLES[role].scope_texts(fhir_user=fhir_user)),
        fhir_user=fhir_user,
        role=role,
    )
    return RequestContext(principal=principal, base_url="http://testserver/fhir")


def _allowed(check: Callable[[], object]) -> bool:
    try:
        return check() is not False
    except Forbidden:
        return False


def _writes(gate: ScopeGate, ctx: RequestContext, interaction: Interaction, resource: dict[str, Any]) -> bool:
    gate.check_write(ctx, interaction, resource)
    return True


def allowed(gate: ScopeGate, ctx: RequestContext, letter: str, resource: dict[str, Any]) -> bool:
    resource_type = resource["resourceType"]
    visible = _allowed(lambda: gate.require(ctx, Interaction.READ, resource_type)) and gate.can_see(
        ctx, resource
    )
    checks: dict[str, Callable[[], object]] = {
        "r": lambda: visible,
        "s": lambda: gate.search_constraint(ctx, resource_type) is not None and gate.can_see(ctx, resource),
        "c": lambda: _writes(gate, ctx, Interaction.CREATE, resource),
        "u": lambda: visible and _writes(gate, ctx, Interaction.UPDATE, resource),
        "d": lambda: visible and _writes(gate, ctx, Interaction.DELETE, resource),
    }
    return _allowed(checks[letter])


def test_the_table_covers_every_role() -> None:
    assert set(ROLE_ORDER) == set(ROLES)
    assert set(TABLE) == set(RESOURCES)


@pytest.mark.parametrize("label", list(TABLE))
def test_role_table(gate: ScopeGate, label: str) -> None:
    resource = {**RESOURCES[label], "id": "x1"}
    wrong = []
    for role, expected in zip(ROLE_ORDER, TABLE[label], strict=True):
        ctx = role_ctx(role)
        for letter in "rscud":
            if allowed(gate, ctx, letter, resource) != (letter in expected):
                wrong.append(f"{role} {letter}: expected {'allowed' if letter in expected else 'denied'}")
    assert not wrong, f"{label}: {wrong}"


def test_the_lab_without_a_linked_resource_sees_no_findings(gate: ScopeGate) -> None:
    scopes = ROLES["lab"].scope_texts(fhir_user=None)
    assert not any("Observation" in scope or "ServiceRequest" in scope for scope in scopes)
    ctx = RequestContext(
        Principal(subject="l", scopes=frozenset(scopes), role="lab"), "http://testserver/fhir"
    )
    with pytest.raises(Forbidden):
        gate.require(ctx, Interaction.READ, "Observation")
