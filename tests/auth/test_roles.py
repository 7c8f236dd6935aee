"""Clinic roles: the README table matches the code, and each role allows what it says."""

from __future__ import annotations

from pathlib import Path

from fhir_server.auth.roles import FINANCE, ROLES, roles_markdown
from fhir_server.auth.scopes import ScopeContext

README = Path(__file__).resolve().parents[2] / "fhir_server" / "auth" / "README-roles.md"


def _can(role: str, resource_type: str, permission: str) -> bool:
    return any(
        scope.applies_to(resource_type) and permission in scope.permissions
        for scope in ROLES[role].clinical_scopes()
    )


def test_readme_table_is_the_code() -> None:
    assert roles_markdown() in README.read_text()


def test_the_six_roles_exist() -> None:
    assert set(ROLES) == {"admin", "doctor", "nurse", "receptionist", "accountant", "lab"}


def test_receptionist_schedules_but_sees_no_clinical_notes() -> None:
    assert _can("receptionist", "Appointment", "c")
    assert _can("receptionist", "Patient", "u")
    for clinical in ("Observation", "DocumentReference", "Composition", "Condition", "DiagnosticReport"):
        assert not _can("receptionist", clinical, "r")


def test_accountant_sees_finance_only() -> None:
    for finance in FINANCE:
        assert _can("accountant", finance, "r")
    for other in ("Patient", "Observation", "Appointment"):
        assert not _can("accountant", other, "r")


def test_lab_submits_results_and_reads_orders() -> None:
    for result in ("Observation", "DiagnosticReport", "Specimen"):
        assert _can("lab", result, "c")
    assert _can("lab", "ServiceRequest", "r") and not _can("lab", "ServiceRequest", "c")
    assert not _can("lab", "Condition", "r")


def test_only_admin_deletes_clinical_data() -> None:
    assert _can("admin", "Observation", "d")
    assert not any(_can(role, "Observation", "d") for role in ROLES if role != "admin")


def test_backend_context() -> None:
    scopes = ROLES["lab"].clinical_scopes(ScopeContext.SYSTEM)
    assert all(scope.context is ScopeContext.SYSTEM for scope in scopes)
