"""A transport-neutral FHIR call: what an adapter (REST route, bundle entry, importer) hands the pipeline.

Everything HTTP-specific has been read off the request by then: the target, the query parameters,
the headers that matter to FHIR (conditions, ``Prefer``) and the body, either a parsed JSON value or
raw bytes still streaming (Binary content, multipart uploads).
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlencode

from fhir_server.context import RequestContext
from fhir_server.interactions.target import Target
from fhir_server.store.repository import Session

ReturnPreference = Literal["minimal", "representation", "OperationOutcome"]


@dataclass(frozen=True)
class RawBody:
    """A body that is not FHIR JSON, left unread for the handler (Binary content, multipart forms)."""

    chunks: AsyncIterable[bytes]
    content_type: str | None
    content_length: str | None = None
    security_context: str | None = None  # X-Security-Context, for raw Binary writes


@dataclass(frozen=True)
class Conditions:
    """The FHIR conditional headers (or their bundle ``entry.request`` twins)."""

    if_match: int | None = None  # the version an update or delete expects
    if_none_exist: str | None = None  # conditional create's query
    if_none_match: str | None = None  # conditional read
    if_modified_since: str | None = None  # conditional read


@dataclass(frozen=True)
class Call:
    method: str  # GET, HEAD, POST, PUT, PATCH, DELETE
    target: Target
    ctx: RequestContext
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None  # parsed JSON (a resource, a patch document, Parameters), a RawBody, or None
    content_type: str | None = None  # the body's media type (decides JSON Patch vs FHIRPath Patch)
    conditions: Conditions = field(default_factory=Conditions)
    prefer_return: ReturnPreference = "representation"
    prefer_async: bool = False  # Prefer: respond-async (bulk export kick-off requires it)
    session: Session | None = None  # a transaction's: the call runs inside it
    assigned_id: str | None = None  # an id the server chose beforehand (transactions), never a client's

    @property
    def resource_type(self) -> str | None:
        return self.target.resource_type

    @property
    def resource_id(self) -> str | None:
        return self.target.resource_id

    @property
    def query(self) -> str:
        """The parameters as a query string (a conditional write's condition)."""
        return urlencode(self.params)

    def param(self, name: str) -> str | None:
        """The first value of a parameter, or None."""
        for key, value in self.params:
            if key == name:
                return value
        return None

    def within(self, session: Session | None) -> Call:
        """The same call, run inside this transaction."""
        return replace(self, session=session)
