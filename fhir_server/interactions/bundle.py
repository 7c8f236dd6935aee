"""Batch and transaction Bundles (``POST [base]``), shared by the REST API and the importer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fhir_server.context import Interaction, RequestContext
from fhir_server.interactions.bundle_batch import run_batch
from fhir_server.interactions.bundle_entries import BUNDLE_TYPES, BundleEntry, check_bundle_kind, parse_bundle
from fhir_server.interactions.bundle_transaction import run_transaction
from fhir_server.services import Services
from fhir_server.store.repository import instant, new_id, now


class Runner(Protocol):
    def __call__(
        self,
        *,
        services: Services,
        ctx: RequestContext,
        entries: list[BundleEntry],
        prefer: str,
        progress: Callable[[int], None] | None = None,
    ) -> Awaitable[list[dict[str, Any]]]: ...


_RUNNERS: dict[str, tuple[Interaction, Runner]] = {
    "batch": (Interaction.BATCH, run_batch),
    "transaction": (Interaction.TRANSACTION, run_transaction),
}


async def process_bundle(
    *,
    services: Services,
    ctx: RequestContext,
    bundle: dict[str, Any],
    prefer: str = "representation",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run a batch or transaction Bundle and return its ``batch-response``/``transaction-response``.

    ``prefer`` is the ``Prefer: return=`` choice (minimal, representation, OperationOutcome) for
    write entries. A transaction that fails raises the failing entry's error (its status and an
    OperationOutcome naming ``Bundle.entry[n]``) and leaves nothing written. ``progress`` is
    called with the number of entries done as they complete.
    """
    kind = check_bundle_kind(bundle)
    interaction, runner = _RUNNERS[kind]
    services.gate.require(ctx, interaction, None)
    parsed = parse_bundle(
        bundle,
        base_url=ctx.base_url,
        registry=services.registry,
        max_entries=services.settings.bundle_max_entries,
    )
    # MongoDB cannot create collections' indexes inside a transaction: do it first.
    known = [name for name in sorted(parsed.resource_types) if services.registry.is_resource_type(name)]
    await services.repository.ensure_collections(known)
    entries = await runner(
        services=services, ctx=ctx, entries=parsed.entries, prefer=prefer, progress=progress
    )
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": instant(now())},
        "type": BUNDLE_TYPES[kind],
        "entry": entries,
    }
