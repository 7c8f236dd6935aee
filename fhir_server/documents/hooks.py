"""The repository write hook of documents: runs inside every write's transaction.

* A DocumentReference or Media version is written: the Binaries its attachments point at that
  this call moved out of inline data are created now (same transaction: both commit or neither;
  a consequence of the write, made by the server), and the ledger records every Binary it points at.
* A Binary is deleted: refused (409) while any version, current or past, of a DocumentReference
  or Media points at it. Expunging those is the way to let it go.
"""

from __future__ import annotations

from typing import Any

from fhir_server.documents.blob_ref import attachment_binary_ids
from fhir_server.documents.request_scope import pending_binary
from fhir_server.errors import Conflict
from fhir_server.services import Services
from fhir_server.store.attachments import ATTACHMENT_RULES
from fhir_server.store.ledgers import BinaryLedger
from fhir_server.store.repository import Change, WriteContext


class DocumentsWriteHook:
    def __init__(self, services: Services, ledger: BinaryLedger) -> None:
        self._services = services
        self._ledger = ledger

    async def __call__(self, wctx: WriteContext, change: Change) -> None:
        if change.resource_type == "Binary" and change.current is None:
            await self._refuse_if_referenced(change.resource_id, wctx)
        elif change.current is not None and change.resource_type in ATTACHMENT_RULES:
            await self._attachments_written(change.resource_type, change.resource_id, change.current, wctx)

    async def _refuse_if_referenced(self, binary_id: str, wctx: WriteContext) -> None:
        referrers = await self._ledger.referrers(binary_id, session=wctx.session)
        if referrers:
            raise Conflict(
                f"Binary/{binary_id} holds the content of {', '.join(referrers)} (a current or past "
                "version); it is kept as long as they are: expunge them first"
            )

    async def _attachments_written(
        self, resource_type: str, resource_id: str, resource: dict[str, Any], wctx: WriteContext
    ) -> None:
        repository = self._services.repository
        binary_ids = attachment_binary_ids(resource, self._services.settings.base_url)
        for binary_id in sorted(binary_ids):
            binary = pending_binary(wctx.ctx, binary_id)
            if binary is None:
                continue
            existing = await repository.current(
                resource_type="Binary", resource_id=binary_id, session=wctx.session
            )
            if existing is None:
                await repository.replace(
                    existing=None,
                    resource_type="Binary",
                    resource_id=binary_id,
                    resource=binary,
                    wctx=wctx.consequence(),
                    method="POST",
                )
        await self._ledger.record(
            referrer=f"{resource_type}/{resource_id}", binary_ids=binary_ids, session=wctx.session
        )
