"""Batch and transaction Bundles (``POST [base]``), for the REST API and the importer alike.

Each entry becomes a :class:`~fhir_server.interactions.call.Call` and goes through the same
pipeline as its REST twin: same dispatch table, same gate, same renderer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from fhir_server.conformance.bundles import bundle_issues
from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import InvalidResource
from fhir_server.interactions.bundle_batch import run_batch
from fhir_server.interactions.bundle_entries import BUNDLE_TYPES, BundleEntry, check_bundle_kind, parse_bundle
from fhir_server.interactions.bundle_transaction import run_transaction
from fhir_server.interactions.call import Call, ReturnPreference
from fhir_server.interactions.outcome import Outcome
from fhir_server.store.repository import instant, new_id, now

if TYPE_CHECKING:
    from fhir_server.interactions.pipeline import Pipeline


class Runner(Protocol):
    def __call__(
        self,
        *,
        pipeline: Pipeline,
        ctx: RequestContext,
        entries: list[BundleEntry],
        prefer: ReturnPreference,
        progress: Callable[[int], None] | None = None,
    ) -> Awaitable[list[dict[str, Any]]]: ...


_RUNNERS: dict[str, tuple[Interaction, Runner]] = {
    "batch": (Interaction.BATCH, run_batch),
    "transaction": (Interaction.TRANSACTION, run_transaction),
}


async def process_bundle(
    *,
    pipeline: Pipeline,
    ctx: RequestContext,
    bundle: dict[str, Any],
    prefer: ReturnPreference = "representation",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run a batch or transaction Bundle and return its ``batch-response``/``transaction-response``.

    ``prefer`` is the ``Prefer: return=`` choice for write entries. A transaction that fails raises
    the failing entry's error (its status and an OperationOutcome naming ``Bundle.entry[n]``) and
    leaves nothing written. ``progress`` is called with the number of entries done as they complete.
    """
    kind = check_bundle_kind(bundle)
    envelope = [issue for issue in bundle_issues(bundle, "Bundle") if issue.severity in {"error", "fatal"}]
    if envelope:  # the Bundle rules of the specification (fullUrls, duplicates), before anything runs
        raise InvalidResource(envelope)
    interaction, runner = _RUNNERS[kind]
    services = pipeline.services
    services.guard.require(ctx, interaction, None)
    parsed = parse_bundle(
        bundle,
        base_url=ctx.base_url,
        route_of=pipeline.route,
        max_entries=services.settings.bundle_max_entries,
    )
    # MongoDB cannot create collections' indexes inside a transaction: do it first.
    known = [name for name in sorted(parsed.resource_types) if services.registry.is_resource_type(name)]
    await services.repository.ensure_collections(known)
    entries = await runner(
        pipeline=pipeline, ctx=ctx, entries=parsed.entries, prefer=prefer, progress=progress
    )
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": instant(now())},
        "type": BUNDLE_TYPES[kind],
        "entry": entries,
    }


async def batch_or_transaction(call: Call, pipeline: Pipeline) -> Outcome:
    bundle = call.body if isinstance(call.body, dict) else {}
    return Outcome.ok(
        await process_bundle(pipeline=pipeline, ctx=call.ctx, bundle=bundle, prefer=call.prefer_return)
    )
