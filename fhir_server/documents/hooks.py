"""The repository write hook of documents: runs inside every write's transaction.

* A DocumentReference or Media version is written: the Binaries its attachments point at that
  this request moved out of inline data are created now (same transaction: both commit or
  neither), and the ledger records every Binary it points at.
* A Binary is deleted: refused (409) while any version, current or past, of a DocumentReference
  or Media points at it. Expunging those is the way to let it go.
"""

from __future__ import annotations

from typing import Any

from fhir_server.documents.blob_ref import attachment_binary_ids
from fhir_server.documents.ledger import BinaryLedger
from fhir_server.documents.request_scope import pending_binary
from fhir_server.errors import Conflict
from fhir_server.services import Services, Session
from fhir_server.store.attachments import ATTACHMENT_RULES


class DocumentsWriteHook:
    def __init__(self, services: Services, ledger: BinaryLedger) -> None:
        self._services = services
        self._ledger = ledger

    async def __call__(
        self,
        *,
        session: Session,
        resource_type: str,
        resource_id: str,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
    ) -> None:
        if resource_type == "Binary" and current is None:
            await self._refuse_if_referenced(resource_id, session)
        elif current is not None and resource_type in ATTACHMENT_RULES:
            await self._attachments_written(resource_type, resource_id, current, session)

    async def _refuse_if_referenced(self, binary_id: str, session: Session) -> None:
        referrers = await self._ledger.referrers(binary_id, session=session)
        if referrers:
            raise Conflict(
                f"Binary/{binary_id} holds the content of {', '.join(referrers)} (a current or past "
                "version); it is kept as long as they are: expunge them first"
            )

    async def _attachments_written(
        self, resource_type: str, resource_id: str, resource: dict[str, Any], session: Session
    ) -> None:
        repository = self._services.repository
        binary_ids = attachment_binary_ids(resource, self._services.settings.base_url)
        for binary_id in sorted(binary_ids):
            binary = pending_binary(binary_id)
            if binary is None:
                continue
            existing = await repository.current(
                resource_type="Binary", resource_id=binary_id, session=session
            )
            if existing is None:
                await repository.create(
                    resource_type="Binary", resource=binary, session=session, resource_id=binary_id
                )
        await self._ledger.record(
            referrer=f"{resource_type}/{resource_id}", binary_ids=binary_ids, session=session
        )
