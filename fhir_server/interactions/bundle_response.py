"""Shaping entry results into ``batch-response`` / ``transaction-response`` entries, and errors
into ones that name the entry they came from."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fhir_server.api.responses import write_outcome
from fhir_server.errors import FhirError
from fhir_server.interactions.bundle_entries import BundleEntry
from fhir_server.interactions.bundle_exec import EntryResult
from fhir_server.store.repository import instant


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def response_entry(result: EntryResult, *, prefer: str, base_url: str) -> dict[str, Any]:
    """One response entry; ``prefer`` is the ``Prefer: return=`` choice for writes."""
    response: dict[str, Any] = {"status": status_line(result.status)}
    stored = result.stored
    if stored is not None:
        if result.write is not None:
            response["location"] = stored.location_path
        response["etag"] = stored.etag
        response["lastModified"] = instant(stored.last_updated)
    entry: dict[str, Any] = {}
    resource = result.body
    if result.write is not None:
        resource = stored.resource if stored is not None and prefer == "representation" else None
        if prefer == "OperationOutcome":
            response["outcome"] = write_outcome(result.write)
    if stored is not None and stored.resource is not None and resource is stored.resource:
        entry["fullUrl"] = f"{base_url}/{stored.resource_type}/{stored.id}"
    if resource is not None:
        entry["resource"] = resource
    entry["response"] = response
    return entry


def error_entry(error: FhirError) -> dict[str, Any]:
    """A failed batch entry: its status and the OperationOutcome saying why."""
    return {"response": {"status": status_line(error.status), "outcome": error.outcome()}}


def _relocated(expression: str, entry: BundleEntry) -> str:
    """``Patient.name[0]`` raised for an entry's resource, as ``Bundle.entry[3].resource.name[0]``."""
    resource_type = entry.resource_type or ""
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
    # Headers such as ETag described the entry's resource, not the bundle's response.
    named.headers = {k: v for k, v in error.headers.items() if k.lower() == "www-authenticate"}
    return named
