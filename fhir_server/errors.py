"""Domain errors. Each carries an HTTP status and FHIR issue code; one handler renders them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue."""

    code: str  # FHIR issue type: invalid, not-found, conflict, forbidden, processing ...
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def to_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.to_fhir() for issue in issues]}


@dataclass
class FhirError(Exception):
    """Base of every error that becomes an OperationOutcome."""

    diagnostics: str
    expression: tuple[str, ...] = ()
    status: int = 400
    code: str = "invalid"
    extra_issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.diagnostics)

    def issues(self) -> list[Issue]:
        return [Issue(self.code, self.diagnostics, "error", self.expression), *self.extra_issues]

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues())


def _error(status: int, code: str) -> Any:
    """Make a FhirError subclass with a fixed status and issue code."""

    def init(
        self: FhirError,
        diagnostics: str,
        expression: tuple[str, ...] = (),
        *,
        extra_issues: list[Issue] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        FhirError.__init__(self, diagnostics, expression, status, code, extra_issues or [], headers or {})

    return init


class BadRequest(FhirError):
    __init__ = _error(400, "invalid")


class Unprocessable(FhirError):
    """Content parses but breaks a rule (profile, invariant, business rule): 422."""

    __init__ = _error(422, "processing")


class NotFound(FhirError):
    __init__ = _error(404, "not-found")


class Gone(FhirError):
    __init__ = _error(410, "deleted")


class Conflict(FhirError):
    __init__ = _error(409, "conflict")


class PreconditionFailed(FhirError):
    __init__ = _error(412, "conflict")


class PayloadTooLarge(FhirError):
    __init__ = _error(413, "too-costly")


class UnsupportedMediaType(FhirError):
    __init__ = _error(415, "not-supported")


class NotAcceptable(FhirError):
    __init__ = _error(406, "not-supported")


class MethodNotAllowed(FhirError):
    __init__ = _error(405, "not-supported")


class Unauthorized(FhirError):
    """401: the caller is not authenticated; the handler adds WWW-Authenticate."""

    __init__ = _error(401, "login")


class Forbidden(FhirError):
    __init__ = _error(403, "forbidden")


class TooCostly(FhirError):
    """A search bound was hit; we refuse rather than return a wrong answer."""

    __init__ = _error(400, "too-costly")
