"""One validator for the validation tests, and a helper that says what it finds."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import Issue

JsonDict = dict[str, Any]


@pytest.fixture(scope="session")
def validator() -> ProfileValidator:
    return ProfileValidator.from_directories()


def errors(issues: list[Issue]) -> list[tuple[str, str]]:
    """(code, expression) of every error, in order."""
    return [
        (issue.code, issue.expression[0] if issue.expression else "")
        for issue in issues
        if issue.severity in ("error", "fatal")
    ]
