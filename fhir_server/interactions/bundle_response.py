"""Shaping entry outcomes into ``batch-response`` / ``transaction-response`` entries, and errors
into ones that name the entry they came from."""

from __future__ import annotations

from dataclasses import replace
from http import HTTPStatus
from typing import Any

from fhir_server.errors import FhirError
from fhir_server.interactions.bundle_entries import BundleEntry
from fhir_server.interactions.call import Call
from fhir_server.interactions.outcome import Outcome, render
from fhir_server.store.repository import instant


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def response_entry(call: Call, outcome: Outcome) -> dict[str, Any]:
    """One response entry, rendered as its REST twin would be (ETag, Location, Prefer, 304)."""
    rendered = render(call, outcome)
    response: dict[str, Any] = {"status": status_line(rendered.status)}
    if rendered.location is not None:
        response["location"] = rendered.location
    if rendered.etag is not None:
        response["etag"] = rendered.etag
    if rendered.last_modified is not None:
        response["lastModified"] = instant(rendered.last_modified)
    if rendered.outcome is not None:
        response["outcome"] = rendered.outcome
    entry: dict[str, Any] = {}
    body = None if call.method == "HEAD" or rendered.outcome is not None else rendered.body
    stored = outcome.stored
    if (
        body is not None
        and stored is not None
        and body.get("resourceType") == stored.resource_type
        and body.get("id") == stored.id
    ):
        entry["fullUrl"] = f"{call.ctx.base_url}/{stored.resource_type}/{stored.id}"
    if body is not None:
        entry["resource"] = body
    entry["response"] = response
    return entry


def error_entry(error: FhirError) -> dict[str, Any]:
    """A failed batch entry: its status and the OperationOutcome saying why."""
    return {"response": {"status": status_line(error.status), "outcome": error.outcome()}}


def _relocated(expression: str, entry: BundleEntry) -> str:
    """``Patient.name[0]`` raised for an entry's resource, as ``Bundle.entry[3].resource.name[0]``."""
    resource_type = (entry.resource or {}).get("resourceType") or entry.resource_type or ""
    if resource_type and expression.startswith(resource_type):
        rest = expression[len(resource_type) :]
        if not rest or rest[0] in ".[":
            return f"{entry.expression}.resource{rest}"
    return expression


def attributed(error: FhirError, entry: BundleEntry) -> FhirError:
    """The same error (class, status, issues) with diagnostics and expression naming the entry."""
    named = FhirError.__new__(type(error))
    named.__dict__.update(error.__dict__)
    diagnostics = f"{entry.label}: {error.diagnostics}"
    Exception.__init__(named, diagnostics)
    named.diagnostics = diagnostics
    named.expression = (entry.expression, *(_relocated(e, entry) for e in error.expression))
    named.extra_issues = [
        replace(issue, expression=tuple(_relocated(e, entry) for e in issue.expression))
        for issue in error.extra_issues
    ]
    # Headers such as ETag described the entry's resource, not the bundle's response.
    named.headers = {k: v for k, v in error.headers.items() if k.lower() == "www-authenticate"}
    return named
