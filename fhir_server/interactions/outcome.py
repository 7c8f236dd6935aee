"""What a handler returns, and the one renderer that turns it into status, headers and body.

Both adapters use :func:`render`: the REST adapter makes an HTTP response of it, the bundle adapter
an ``entry.response`` (with ``entry.resource``). So ETags, ``Location``, ``Prefer: return=`` and
conditional reads (304) are decided once, whatever the transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fhir_server.errors import BadRequest, Issue, operation_outcome
from fhir_server.fhirdates import parse_instant
from fhir_server.interactions.call import Call
from fhir_server.store.repository import StoredResource, WriteResult

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    status: int
    body: JsonDict | None = None  # a resource, a Bundle, Parameters or an OperationOutcome
    stored: StoredResource | None = None  # the version read or written: ETag, Last-Modified
    write: WriteResult | None = None  # set for creates and updates: Location, Prefer
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # the validator of a body that is no stored version (/metadata)

    @classmethod
    def ok(cls, body: JsonDict, *, status: int = 200, etag: str | None = None) -> Outcome:
        return cls(status, body=body, etag=etag)

    @classmethod
    def read(cls, stored: StoredResource, body: JsonDict | None = None) -> Outcome:
        return cls(200, body=body if body is not None else stored.resource, stored=stored)

    @classmethod
    def written(cls, result: WriteResult) -> Outcome:
        return cls(201 if result.created else 200, stored=result.stored, write=result)

    @classmethod
    def deleted(cls, tombstone: StoredResource | None = None) -> Outcome:
        return cls(204, stored=tombstone)


@dataclass(frozen=True)
class Rendered:
    """A transport-neutral answer: what an HTTP response or a bundle entry response carries."""

    status: int
    body: JsonDict | None
    etag: str | None = None
    last_modified: datetime | None = None
    location: str | None = None  # relative to the base: ``Patient/1/_history/2``
    outcome: JsonDict | None = None  # Prefer: return=OperationOutcome, in a bundle entry
    headers: dict[str, str] = field(default_factory=dict)

    def http_headers(self, base_url: str) -> dict[str, str]:
        headers = dict(self.headers)
        if self.etag is not None:
            headers["ETag"] = self.etag
        if self.last_modified is not None:
            # astimezone: pymongo's tz-aware datetimes carry bson's own UTC, which usegmt refuses.
            headers["Last-Modified"] = format_datetime(self.last_modified.astimezone(UTC), usegmt=True)
        if self.location is not None:
            headers["Location"] = f"{base_url}/{self.location}"
        return headers


def write_outcome(result: WriteResult) -> JsonDict:
    """The OperationOutcome a write answers with under ``Prefer: return=OperationOutcome``."""
    stored = result.stored
    if result.created:
        message = f"created {stored.resource_type}/{stored.id} version {stored.version}"
    elif result.changed:
        message = f"updated {stored.resource_type}/{stored.id} to version {stored.version}"
    else:
        message = f"no change: {stored.resource_type}/{stored.id} stays at version {stored.version}"
    return operation_outcome([Issue("informational", message, "information")])


def not_modified(call: Call, stored: StoredResource) -> bool:
    """If-None-Match / If-Modified-Since on a read: True when the client's copy is current."""
    if_none_match = call.conditions.if_none_match
    if if_none_match is not None:
        return etag_matches(if_none_match, stored.etag)
    if_modified_since = call.conditions.if_modified_since
    if if_modified_since is not None:
        since = _moment(if_modified_since)
        return since is not None and stored.last_updated.replace(microsecond=0) <= since
    return False


def etag_matches(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` against an ETag: the weak comparison HTTP uses for conditional GETs."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag.removeprefix("W/") in tags or "*" in tags


def _moment(value: str) -> datetime | None:
    """An HTTP date (REST) or a FHIR instant (bundle ``ifModifiedSince``); None when neither."""
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        pass
    try:
        return parse_instant(value, name="ifModifiedSince")
    except BadRequest:  # malformed: no condition, as HTTP treats an unparsable date
        return None


def render(call: Call, outcome: Outcome) -> Rendered:
    stored = outcome.stored
    etag = stored.etag if stored is not None else outcome.etag
    last_modified = stored.last_updated if stored is not None else None
    if outcome.write is not None:
        assert stored is not None
        location = stored.location_path
        choice = call.prefer_return
        body = None
        entry_outcome = None
        if choice == "representation":
            body = outcome.body if outcome.body is not None else stored.resource
        elif choice == "OperationOutcome":
            body = entry_outcome = write_outcome(outcome.write)
        return Rendered(
            outcome.status, body, etag, last_modified, location, entry_outcome, dict(outcome.headers)
        )
    if call.method in {"GET", "HEAD"}:
        if stored is not None and not_modified(call, stored):
            return Rendered(304, None, etag, last_modified, headers=dict(outcome.headers))
        if_none_match = call.conditions.if_none_match
        if stored is None and etag is not None and if_none_match and etag_matches(if_none_match, etag):
            return Rendered(304, None, etag, headers=dict(outcome.headers))
    return Rendered(outcome.status, outcome.body, etag, last_modified, headers=dict(outcome.headers))
