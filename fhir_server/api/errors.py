"""One place that turns every failure into an OperationOutcome with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.negotiation import FHIR_JSON, wants_pretty
from fhir_server.errors import FhirError, Issue, ServiceUnavailable, operation_outcome
from fhir_server.jsonio import dump_json
from fhir_server.store.mongo import UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)

_HTTP_ISSUE_CODES = {
    404: "not-found",
    405: "not-supported",
    401: "login",
    403: "forbidden",
    413: "too-costly",
}


def outcome_response(
    request: Request, status: int, outcome: dict[str, object], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        dump_json(outcome, pretty=wants_pretty(request)),
        status_code=status,
        media_type=FHIR_JSON,
        headers=headers,
    )


async def _fhir_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, FhirError)
    headers = dict(error.headers)
    if error.status == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return outcome_response(request, error.status, error.outcome(), headers)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_ISSUE_CODES.get(error.status_code, "processing")
    detail = error.detail if isinstance(error.detail, str) else "request failed"
    if error.status_code == 404:
        detail = f"no FHIR endpoint at {request.url.path}"
    outcome = operation_outcome([Issue(code, detail)])
    return outcome_response(request, error.status_code, outcome, dict(error.headers or {}))


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    issues = [
        Issue("invalid", str(detail.get("msg")), "error", (".".join(str(p) for p in detail.get("loc", ())),))
        for detail in error.errors()
    ]
    return outcome_response(request, 400, operation_outcome(issues or [Issue("invalid", "invalid request")]))


async def _database_unavailable(request: Request, error: Exception) -> Response:
    # Unreachable, failed over, or timed out: nothing wrong with the request, so 503 and retry.
    logger.warning("database unavailable", extra={"error_type": type(error).__name__})
    return await _fhir_error(request, ServiceUnavailable())


async def _unexpected(request: Request, error: Exception) -> Response:
    # Never echo internals (or PHI) to the caller; the traceback goes to the log and Sentry.
    logger.exception("unhandled error", exc_info=error)
    outcome = operation_outcome([Issue("exception", "internal server error")])
    return outcome_response(request, 500, outcome)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for unavailable in UNAVAILABLE_ERRORS:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
