"""The services an interaction needs, gathered once per app (``app.state.services``).

Protocols keep the interaction layer independent of how search, validation and blobs are built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from fhir_server.access import AccessGate
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.context import RequestContext
from fhir_server.errors import Issue
from fhir_server.guard import Guard
from fhir_server.jobs import JobRunner
from fhir_server.search.export import Selection
from fhir_server.settings import Settings
from fhir_server.store.blobs import BlobStore
from fhir_server.store.repository import ResourceRepository, Session

T = TypeVar("T")


class Searcher(Protocol):
    async def find_ids(
        self,
        *,
        resource_type: str,
        params: list[tuple[str, str]],
        limit: int,
        session: Session | None = None,
        ctx: RequestContext | None = None,
        gate: AccessGate | None = None,
    ) -> list[str]: ...

    def matching(
        self, *, resource_type: str, params: list[tuple[str, str]], limit: int
    ) -> AsyncIterator[dict[str, Any]]: ...

    def check_criteria(self, *, resource_type: str, params: list[tuple[str, str]]) -> None: ...

    async def duplicate_identifiers(
        self, *, resource_type: str, system: str, limit: int = 1000
    ) -> list[tuple[str, list[str]]]:
        """(value, ids) for every identifier value of ``system`` several current resources carry."""
        ...

    async def criteria_filter(
        self,
        *,
        resource_type: str,
        params: list[tuple[str, str]],
        session: Session | None = None,
        ctx: RequestContext | None = None,
        gate: AccessGate | None = None,
    ) -> dict[str, Any]: ...

    def export_slice(
        self,
        *,
        ctx: RequestContext,
        gate: AccessGate,
        selection: Selection,
        after: str | None,
        limit: int,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]: ...

    def check_filters(self, resource_type: str, filters: list[list[tuple[str, str]]]) -> None: ...

    async def search(
        self,
        *,
        ctx: RequestContext,
        gate: AccessGate,
        resource_type: str | None,
        params: list[tuple[str, str]],
        compartment: tuple[str, str] | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]: ...


class Validator(Protocol):
    """Conformance checks: every write, $validate, value sets."""

    def validate_for_write(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource to store; InvalidResource (400) or NonConformant (422) when refused."""

    def validate(
        self, resource: dict[str, Any], *, profiles: list[str] | None = None, mode: str | None = None
    ) -> list[Issue]: ...

    def knows_profile(self, url: str) -> bool: ...

    def expand_valueset(
        self, url: str, *, text_filter: str | None = None, count: int | None = None, offset: int = 0
    ) -> dict[str, Any]: ...

    def value_set_url(self, value_set_id: str) -> str | None: ...


# Checks a resource about to be written (profiles, business rules); raises a FhirError to refuse.
WriteCheck = Callable[[RequestContext, dict[str, Any]], Awaitable[None]]
# Rewrites a resource before it is written (e.g. moving inline attachment bytes to the blob store).
WriteTransform = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class Services:
    settings: Settings
    registry: ConformanceRegistry
    repository: ResourceRepository
    search: Searcher
    gate: AccessGate
    guard: Guard
    blob_store: BlobStore
    validator: Validator
    jobs: JobRunner  # background work (bulk export ...): the app's lifespan starts and stops it
    write_checks: list[WriteCheck] = field(default_factory=list)
    write_transforms: list[WriteTransform] = field(default_factory=list)

    async def in_transaction(self, session: Session | None, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``work`` in the caller's transaction when there is one, else in a new one."""
        if session is not None:
            return await work(session)
        return await self.repository.transaction(work)
