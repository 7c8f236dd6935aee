"""Domain errors. Each carries an HTTP status and FHIR issue code; one handler renders them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


class FhirError(Exception):
    """Base of every error that becomes an OperationOutcome; subclasses fix status and issue code."""

    status: int = 400
    code: str = "invalid"

    def __init__(
        self,
        diagnostics: str,
        expression: tuple[str, ...] = (),
        *,
        extra_issues: list[Issue] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.expression = expression
        self.extra_issues = extra_issues or []
        self.headers = headers or {}

    def issues(self) -> list[Issue]:
        return [Issue(self.code, self.diagnostics, "error", self.expression), *self.extra_issues]

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues())


class BadRequest(FhirError):
    pass


class Unprocessable(FhirError):
    """Content parses but breaks a rule (profile, invariant, business rule): 422."""

    status, code = 422, "processing"


class NotFound(FhirError):
    status, code = 404, "not-found"


class Gone(FhirError):
    status, code = 410, "deleted"


class Conflict(FhirError):
    status, code = 409, "conflict"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class PayloadTooLarge(FhirError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class RequestTimeout(FhirError):
    """408: the client did not send its request (body) in time."""

    status, code = 408, "timeout"


class Unauthorized(FhirError):
    """401: the caller is not authenticated; the handler adds WWW-Authenticate."""

    status, code = 401, "login"


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class TooCostly(FhirError):
    """A search bound was hit; we refuse rather than return a wrong answer."""

    status, code = 400, "too-costly"


class InvalidResource(BadRequest):
    """400: the content is not valid FHIR (JSON rules, base definitions). The outcome lists the
    validator's issues as found, one per problem, each with its own issue code (the first one's
    diagnostics and expression are the error's own, so a bundle can attribute it to its entry)."""

    def __init__(self, issues: list[Issue]) -> None:
        first = issues[0] if issues else Issue("invalid", "The resource is not valid", "error")
        super().__init__(first.diagnostics, first.expression, extra_issues=list(issues[1:]))
        self.first = first

    def issues(self) -> list[Issue]:
        own = Issue(self.first.code, self.diagnostics, self.first.severity, self.expression)
        return [own, *self.extra_issues]


class NonConformant(Unprocessable):
    """422: valid FHIR that breaks a profile or a business rule; the validator's issues as found."""

    def __init__(self, issues: list[Issue]) -> None:
        first = issues[0] if issues else Issue("processing", "The resource breaks a rule", "error")
        super().__init__(first.diagnostics, first.expression, extra_issues=list(issues[1:]))
        self.first = first

    def issues(self) -> list[Issue]:
        own = Issue(self.first.code, self.diagnostics, self.first.severity, self.expression)
        return [own, *self.extra_issues]


class ServiceUnavailable(FhirError):
    """503: the database (or another backend) cannot be reached now; the client may retry."""

    status, code = 503, "no-store"
    RETRY_AFTER_SECONDS = 5

    def __init__(self, diagnostics: str = "The database is unavailable; retry shortly.") -> None:
        super().__init__(diagnostics, headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)})
