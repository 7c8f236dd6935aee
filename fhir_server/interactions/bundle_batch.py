"""A batch Bundle: entries run one after another, each in its own transaction, each succeeding or
failing on its own (a failure becomes that entry's OperationOutcome in ``response.outcome``).

Entries run in the transaction order (DELETE, POST, PUT/PATCH, GET/HEAD) as the specification
expects of batches too; responses come back in request order."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, FhirError
from fhir_server.interactions.bundle_entries import BundleEntry, in_processing_order
from fhir_server.interactions.bundle_refs import (
    conditional_reference,
    is_placeholder,
    iter_reference_values,
    rewrite_references,
)
from fhir_server.interactions.bundle_response import attributed, error_entry, response_entry
from fhir_server.interactions.bundle_transaction import resolve_conditional_reference
from fhir_server.interactions.call import ReturnPreference
from fhir_server.services import Services

if TYPE_CHECKING:
    from fhir_server.interactions.pipeline import Pipeline


async def _resolved(services: Services, ctx: RequestContext, entry: BundleEntry) -> dict[str, Any] | None:
    """The entry's resource with conditional references resolved. Batch entries may not point at
    each other (they have no order), so a ``urn:uuid:`` reference is refused."""
    if entry.resource is None:
        return None
    targets: dict[str, str] = {}
    for reference in iter_reference_values(entry.resource):
        if reference in targets:
            continue
        if is_placeholder(reference):
            raise BadRequest(
                f"the reference '{reference}' points at another entry; entries of a batch are "
                "independent (use a transaction)",
                (f"{entry.expression}.resource",),
            )
        parsed = conditional_reference(reference)
        if parsed is not None:
            targets[reference] = await resolve_conditional_reference(services, *parsed, ctx=ctx)
    rewritten: dict[str, Any] = rewrite_references(entry.resource, targets)
    return rewritten


async def run_batch(
    *,
    pipeline: Pipeline,
    ctx: RequestContext,
    entries: list[BundleEntry],
    prefer: ReturnPreference,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """The response entries, in request order; one entry's failure does not touch the others."""
    responses: dict[int, dict[str, Any]] = {}
    for entry in in_processing_order(entries):
        try:
            resource = await _resolved(pipeline.services, ctx, entry)
            call = entry.call(ctx=ctx, prefer=prefer, resource=resource)
            responses[entry.index] = response_entry(call, await pipeline.dispatch(call, entry.route))
        except FhirError as error:
            responses[entry.index] = error_entry(attributed(error, entry))
        if progress is not None:
            progress(1)
    return [responses[entry.index] for entry in entries]
