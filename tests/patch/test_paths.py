"""The FHIRPath subset parser used by FHIRPath Patch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_server.patch.paths import (
    Comparison,
    Function,
    Indexer,
    Literal,
    Logical,
    Member,
    PathSyntaxError,
    parse_expression,
    parse_path,
)


def test_navigation_indexers_and_functions() -> None:
    path = parse_path("Patient.name[0].given.first().extension('http://x/y').ofType(FHIR.string)")
    assert path.steps == (
        Member("Patient"),
        Member("name"),
        Indexer(0),
        Member("given"),
        Function("first"),
        Function("extension", "http://x/y"),
        Function("ofType", "string"),
    )


def test_where_criteria_with_literals_and_logic() -> None:
    path = parse_path(
        r"Patient.telecom.where(system = 'phone' and (rank = 1 or rank = 2.5) and use != 'it\'s')"
    )
    criteria = path.steps[-1]
    assert isinstance(criteria, Function) and criteria.name == "where"
    assert isinstance(criteria.argument, Logical) and criteria.argument.operator == "and"
    right = criteria.argument.right
    assert right == Comparison("!=", parse_path("use"), Literal("it's"))
    inner = criteria.argument.left
    assert isinstance(inner, Logical)
    assert inner.right == Logical(
        "or",
        Comparison("=", parse_path("rank"), Literal(1)),
        Comparison("=", parse_path("rank"), Literal(Decimal("2.5"))),
    )


def test_boolean_and_date_literals() -> None:
    assert parse_expression("active = true") == Comparison("=", parse_path("active"), Literal(True))
    assert parse_expression("birthDate = @1974-12-25") == Comparison(
        "=", parse_path("birthDate"), Literal("1974-12-25")
    )


@pytest.mark.parametrize(
    "text",
    ["", "Patient.", "Patient.name[x]", "Patient.name.resolve()", "Patient.name where", "'a' = 'a'", "a = "],
)
def test_unsupported_or_broken_paths_raise(text: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(text)
