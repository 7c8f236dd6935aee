"""A transaction Bundle: every entry in one MongoDB transaction, all or nothing.

Order (FHIR http.html#trules): DELETE, then POST, then PUT/PATCH, then GET/HEAD. Before the first
POST the identity of every created or conditionally written resource is settled (ids assigned,
conditional creates and updates matched, conditional references searched), so references between
entries can be rewritten to ``Type/id`` before each resource is written. Any failing entry aborts
the whole transaction with that entry's error, naming the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, FhirError, PreconditionFailed
from fhir_server.interactions import crud
from fhir_server.interactions.bundle_entries import PROCESSING_PHASES, BundleEntry
from fhir_server.interactions.bundle_refs import (
    conditional_reference,
    is_placeholder,
    iter_reference_values,
    rewrite_references,
)
from fhir_server.interactions.bundle_response import attributed, response_entry
from fhir_server.interactions.call import ReturnPreference
from fhir_server.interactions.target import Shape
from fhir_server.services import Services
from fhir_server.store.repository import Session, new_id

if TYPE_CHECKING:
    from fhir_server.interactions.pipeline import Pipeline


@contextmanager
def naming(entry: BundleEntry) -> Iterator[None]:
    """Errors raised while handling ``entry`` say which entry it was."""
    try:
        yield
    except FhirError as error:
        raise attributed(error, entry) from None


class TransactionRun:
    """One attempt at a transaction (MongoDB may retry the whole attempt on a transient conflict)."""

    def __init__(
        self,
        pipeline: Pipeline,
        ctx: RequestContext,
        session: Session,
        entries: list[BundleEntry],
        prefer: ReturnPreference,
    ) -> None:
        self.pipeline = pipeline
        self.services = pipeline.services
        self.ctx = ctx
        self.session = session
        self.entries = entries
        self.prefer = prefer
        self.targets: dict[str, str] = {}  # fullUrl or conditional reference -> "Type/id"
        self.assigned_ids: dict[int, str] = {}  # entry index -> id the entry's new resource gets
        self.condition_targets: dict[str, str] = {}  # a conditional create's condition -> "Type/id"
        self.written: dict[str, int] = {}  # "Type/id" -> index of the entry that changes it
        self.results: dict[int, dict[str, Any]] = {}  # entry index -> its response entry

    def phase(self, methods: frozenset[str]) -> list[BundleEntry]:
        return [entry for entry in self.entries if entry.method in methods]

    async def run(self) -> dict[int, dict[str, Any]]:
        deletes, creates, updates, reads = (self.phase(methods) for methods in PROCESSING_PHASES)
        await self._execute(deletes)
        for entry in creates + updates:
            with naming(entry):
                await self._settle_identity(entry)
        for entry in creates + updates:
            with naming(entry):
                await self._resolve_conditional_references(entry)
        await self._execute(creates + updates)
        await self._execute(reads)
        return self.results

    async def _execute(self, entries: list[BundleEntry]) -> None:
        for entry in entries:
            with naming(entry):
                call = entry.call(
                    ctx=self.ctx,
                    prefer=self.prefer,
                    resource=self._rewritten(entry),
                    session=self.session,
                    assigned_id=self.assigned_ids.get(entry.index),
                )
                self.results[entry.index] = response_entry(
                    call, await self.pipeline.dispatch(call, entry.route)
                )

    # ----- identities ----------------------------------------------------------------------------

    async def _match(self, resource_type: str, query: str) -> str | None:
        """The one existing match of a condition (claimed, as crud does), None, or 412 for several."""
        return await crud.match_one(
            self.services, self.ctx, resource_type, crud.parse_condition(query), self.session
        )

    async def _settle_identity(self, entry: BundleEntry) -> None:
        """Decide which resource the entry writes, so references to its fullUrl can be rewritten."""
        resource_type = entry.resource_type
        assert resource_type is not None
        target_id: str | None
        if entry.method == "POST":
            target_id = await self._settle_create(entry, resource_type)
        elif entry.target.shape is Shape.INSTANCE:
            target_id = entry.target.resource_id
        elif entry.method == "PUT":
            target_id = await self._match(resource_type, entry.query)
            if target_id is None:
                body_id = (entry.resource or {}).get("id")
                target_id = body_id if isinstance(body_id, str) else new_id()
            self.assigned_ids[entry.index] = target_id
        else:  # conditional PATCH: the patch interaction raises 412 when nothing matches
            target_id = await self._match(resource_type, entry.query)
        if target_id is None:
            return
        key = f"{resource_type}/{target_id}"
        if entry.method != "POST" or entry.index in self.assigned_ids:
            self._claim_identity(entry, key)
        if entry.full_url is not None:
            self.targets[entry.full_url] = key

    def _claim_identity(self, entry: BundleEntry, key: str) -> None:
        """The spec's overlap rule: a transaction changes each resource at most once."""
        other = self.written.setdefault(key, entry.index)
        if other != entry.index:
            raise BadRequest(
                f"{key} is also written by entry {other}; a transaction changes each resource once"
            )

    async def _settle_create(self, entry: BundleEntry, resource_type: str) -> str:
        if entry.conditions.if_none_exist is None:
            self.assigned_ids[entry.index] = new_id()
            return self.assigned_ids[entry.index]
        key = _condition_key(resource_type, crud.parse_condition(entry.conditions.if_none_exist))
        known = self.condition_targets.get(key)
        if known is not None:  # an earlier entry of this bundle creates (or matched) the same resource
            return known.partition("/")[2]
        match = await self._match(resource_type, entry.conditions.if_none_exist)
        if match is None:
            match = self.assigned_ids[entry.index] = new_id()
        self.condition_targets[key] = f"{resource_type}/{match}"
        return match

    # ----- references ----------------------------------------------------------------------------

    async def _resolve_conditional_references(self, entry: BundleEntry) -> None:
        for reference in iter_reference_values(entry.resource):
            if reference in self.targets:
                continue
            if is_placeholder(reference):
                raise BadRequest(
                    f"the reference '{reference}' matches the fullUrl of no entry in this bundle",
                    (f"{entry.expression}.resource",),
                )
            parsed = conditional_reference(reference)
            if parsed is not None:
                self.targets[reference] = await self._resolve_conditional(*parsed)

    async def _resolve_conditional(self, resource_type: str, query: str) -> str:
        params = crud.parse_condition(query)
        created = self.condition_targets.get(_condition_key(resource_type, params))
        if created is not None:  # a conditional create of this bundle with the very same condition
            return created
        return await resolve_conditional_reference(
            self.services, resource_type, query, ctx=self.ctx, params=params, session=self.session
        )

    def _rewritten(self, entry: BundleEntry) -> dict[str, Any] | None:
        """A fresh copy of the entry's resource with references rewritten (a retry starts clean)."""
        if entry.resource is None:
            return None
        rewritten: dict[str, Any] = rewrite_references(entry.resource, self.targets)
        return rewritten


async def resolve_conditional_reference(
    services: Services,
    resource_type: str,
    query: str,
    *,
    ctx: RequestContext,
    params: list[tuple[str, str]] | None = None,
    session: Session | None = None,
) -> str:
    """``Type/id`` of the single resource a conditional reference matches; 412 for none or several.

    Only resources the caller could find by searching count (one that it may not see is neither
    matched nor revealed)."""
    ids = await services.search.find_ids(
        resource_type=resource_type,
        params=params if params is not None else parse_qsl(query, keep_blank_values=True),
        limit=2,
        session=session,
        ctx=ctx,
        gate=services.gate,
    )
    if len(ids) != 1:
        found = "no" if not ids else "more than one"
        raise PreconditionFailed(
            f"the conditional reference {resource_type}?{query} matches {found} resource"
        )
    return f"{resource_type}/{ids[0]}"


async def run_transaction(
    *,
    pipeline: Pipeline,
    ctx: RequestContext,
    entries: list[BundleEntry],
    prefer: ReturnPreference,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """The response entries, in request order, of a committed transaction (or the failing entry's error)."""

    async def work(session: Session) -> dict[int, dict[str, Any]]:
        return await TransactionRun(pipeline, ctx, session, entries, prefer).run()

    results = await pipeline.services.repository.transaction(work)
    if progress is not None:
        progress(len(entries))
    return [results[entry.index] for entry in entries]


def _condition_key(resource_type: str, params: list[tuple[str, str]]) -> str:
    """Conditional creates of one bundle with the very same condition create one resource."""
    return f"{resource_type}?{crud.encode_condition(sorted(params))}"
