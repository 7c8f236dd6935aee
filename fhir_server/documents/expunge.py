"""Expunge: remove a DocumentReference, Media or Binary for good, with the bytes nobody needs.

Unlike delete (a tombstone version; history kept), expunge removes the current document and
every history version, in one transaction. For a DocumentReference or Media, each Binary it
pointed at goes too, once no other resource's version (ledger) and no current reference needs it;
a Binary alone is expunged only when nothing points at it. After the transaction commits, the
blobs of the removed Binary versions are deleted (a blob whose deletion fails is logged and left
unreferenced: invisible, reclaimable by a sweep).

Refused (409) while a current resource references the expunged one. Needs the delete permission
on the type (and on Binary when Binaries go too): an administrator's scopes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fhir_server.context import Interaction, RequestContext
from fhir_server.documents.blob_ref import blob_ref_of
from fhir_server.errors import Conflict
from fhir_server.guard import not_known
from fhir_server.services import Services
from fhir_server.store.ledgers import BinaryLedger
from fhir_server.store.repository import Session

logger = logging.getLogger(__name__)
BINARY = "Binary"


@dataclass
class ExpungeReport:
    removed: list[str] = field(default_factory=list)  # "Type/id" of each resource removed
    versions: int = 0
    blob_keys: set[str] = field(default_factory=set)


class _Expunger:
    """One attempt (a transaction may be retried): what it removed so far."""

    def __init__(
        self, services: Services, ctx: RequestContext, ledger: BinaryLedger, session: Session
    ) -> None:
        self._services = services
        self._ctx = ctx
        self._ledger = ledger
        self._session = session
        self.report = ExpungeReport()

    async def _refuse_if_referenced(self, target: str) -> None:
        referrers = await self._services.repository.referencing(target=target, session=self._session)
        if referrers:
            names = ", ".join(f"{t}/{i}" for t, i in referrers[:3])
            raise Conflict(f"{target} is still referenced by {names}; it cannot be expunged")

    async def _remove(self, resource_type: str, resource_id: str) -> None:
        removed = await self._services.repository.expunge(
            resource_type=resource_type, resource_id=resource_id, session=self._session
        )
        for version in removed:
            ref = blob_ref_of(version.resource) if version.resource is not None else None
            if ref is not None:
                self.report.blob_keys.add(ref.key)
        self.report.versions += len(removed)
        self.report.removed.append(f"{resource_type}/{resource_id}")

    async def binary(self, binary_id: str) -> None:
        referrers = await self._ledger.referrers(binary_id, session=self._session)
        if referrers:
            raise Conflict(
                f"Binary/{binary_id} holds the content of {', '.join(referrers)}; expunge them instead"
            )
        await self._refuse_if_referenced(f"{BINARY}/{binary_id}")
        await self._remove(BINARY, binary_id)

    async def document(self, resource_type: str, resource_id: str) -> None:
        target = f"{resource_type}/{resource_id}"
        await self._refuse_if_referenced(target)
        await self._remove(resource_type, resource_id)
        for binary_id in sorted(await self._ledger.forget(referrer=target, session=self._session)):
            if await self._still_needed(binary_id):
                continue
            self._services.guard.require(self._ctx, Interaction.DELETE, BINARY)
            await self._remove(BINARY, binary_id)

    async def _still_needed(self, binary_id: str) -> bool:
        if await self._ledger.referrers(binary_id, session=self._session, limit=1):
            return True
        target = f"{BINARY}/{binary_id}"
        return bool(
            await self._services.repository.referencing(target=target, session=self._session, limit=1)
        )


async def _check_may_expunge(
    services: Services, ctx: RequestContext, resource_type: str, resource_id: str
) -> None:
    services.guard.require(ctx, Interaction.DELETE, resource_type)
    current = await services.repository.current(resource_type=resource_type, resource_id=resource_id)
    if current is None:
        raise not_known(resource_type, resource_id)
    if current.resource is not None:
        services.guard.visible(ctx, current)
        services.gate.check_write(ctx, Interaction.DELETE, current.resource)
    elif not await services.guard.saw_before_deletion(ctx, current):
        raise not_known(resource_type, resource_id)


async def _delete_blobs(services: Services, keys: set[str]) -> int:
    deleted = 0
    for key in sorted(keys):
        try:
            await services.blob_store.delete(key)
        except Exception:
            logger.warning("could not delete an expunged blob; it stays unreferenced", exc_info=True)
        else:
            deleted += 1
    return deleted


async def expunge(
    *, services: Services, ctx: RequestContext, resource_type: str, resource_id: str
) -> tuple[ExpungeReport, int]:
    """Expunge one resource (see module doc); returns what was removed and how many blobs were deleted."""
    await _check_may_expunge(services, ctx, resource_type, resource_id)
    ledger = BinaryLedger(services.repository.db)

    async def work(session: Session) -> ExpungeReport:
        expunger = _Expunger(services, ctx, ledger, session)
        if resource_type == BINARY:
            await expunger.binary(resource_id)
        else:
            await expunger.document(resource_type, resource_id)
        return expunger.report

    report = await services.repository.transaction(work)
    return report, await _delete_blobs(services, report.blob_keys)
