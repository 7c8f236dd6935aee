"""SMART scope parsing (v1, v2, granular) and narrowing."""

from __future__ import annotations

import pytest

from fhir_server.auth.scopes import (
    ScopeContext,
    ScopeSyntaxError,
    covers,
    narrow_scopes,
    parse_clinical_scope,
    parse_scopes,
)


def _scope(text: str):  # type: ignore[no-untyped-def]
    parsed = parse_clinical_scope(text)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("text", "context", "resource_type", "permissions"),
    [
        ("patient/Observation.read", ScopeContext.PATIENT, "Observation", "rs"),
        ("user/*.write", ScopeContext.USER, "*", "cud"),
        ("system/*.*", ScopeContext.SYSTEM, "*", "cruds"),
        ("patient/Observation.rs", ScopeContext.PATIENT, "Observation", "rs"),
        ("user/Patient.cruds", ScopeContext.USER, "Patient", "cruds"),
        ("user/Patient.c", ScopeContext.USER, "Patient", "c"),
        ("system/Encounter.ud", ScopeContext.SYSTEM, "Encounter", "ud"),
    ],
)
def test_v1_and_v2_scopes(text: str, context: ScopeContext, resource_type: str, permissions: str) -> None:
    scope = _scope(text)
    assert scope.context is context
    assert scope.resource_type == resource_type
    assert scope.permissions == frozenset(permissions)


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.rc",  # v2 letters out of order
        "patient/Observation.ss",
        "patient/Observation.",
        "patient/Observation.x",
        "doctor/Observation.rs",
        "patient/observation.rs",
        "Observation.rs",
        "patient/Observation.read?category=laboratory",  # queries are v2 only
        "patient/Observation.rs?",
        "patient/Observation.rs?=x",
        "launch/other",
    ],
)
def test_malformed_scopes(text: str) -> None:
    with pytest.raises(ScopeSyntaxError):
        parse_clinical_scope(text)


def test_launch_scopes_are_not_clinical() -> None:
    parsed = parse_scopes(["openid", "fhirUser", "launch/patient", "offline_access", "patient/*.rs"])
    assert parsed.launch == {"openid", "fhirUser", "launch/patient", "offline_access"}
    assert [scope.text for scope in parsed.clinical] == ["patient/*.rs"]


def test_granular_scope_query() -> None:
    scope = _scope(
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    )
    assert scope.query == (
        ("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
    )
    assert _scope("user/Observation.rs?status=final&category=vital-signs").query == (
        ("category", "vital-signs"),
        ("status", "final"),
    )


def test_covers() -> None:
    assert covers(_scope("user/*.cruds"), _scope("patient/Observation.rs"))
    assert covers(_scope("user/Observation.rs"), _scope("user/Observation.rs?category=laboratory"))
    assert not covers(_scope("user/Observation.rs?category=laboratory"), _scope("user/Observation.rs"))
    assert not covers(_scope("patient/*.cruds"), _scope("user/Observation.r"))
    assert not covers(_scope("user/*.cruds"), _scope("system/Observation.r"))
    assert not covers(_scope("user/Observation.rs"), _scope("user/Observation.cu"))


def test_narrowing_keeps_covered_scopes_as_written() -> None:
    requested = parse_scopes(["patient/Observation.read", "user/Patient.rs"]).clinical
    assert narrow_scopes(requested, parse_scopes(["user/*.cruds"]).clinical) == [
        "patient/Observation.read",
        "user/Patient.rs",
    ]


def test_narrowing_cuts_to_the_intersection() -> None:
    requested = parse_scopes(["patient/*.cruds"]).clinical
    allowed = parse_scopes(
        ["user/Observation.rs", "user/Patient.r", "user/Invoice.cruds?status=draft"]
    ).clinical
    assert narrow_scopes(requested, allowed) == [
        "patient/Observation.rs",
        "patient/Patient.r",
        "patient/Invoice.cruds?status=draft",
    ]


def test_narrowing_drops_what_is_not_allowed_and_subsumed_pieces() -> None:
    requested = parse_scopes(["system/*.rs", "user/Observation.r", "user/Observation.rs"]).clinical
    allowed = parse_scopes(["user/Observation.rs"]).clinical
    assert narrow_scopes(requested, allowed) == ["user/Observation.rs"]
