"""The status the server decides (active after a handshake, error after failures, off when the
creator lost access or the subscription ended), written into the Subscription resource itself, so
clients read it where they expect it. A client's newer write of the Subscription wins."""

from __future__ import annotations

from typing import Any

from fhir_server.services import Services
from fhir_server.store.repository import Session, WriteContext
from fhir_server.store.subscription_ledger import SubscriptionLedger
from fhir_server.subscriptions.rules import machinery_context


class StatusWriter:
    def __init__(self, services: Services, ledger: SubscriptionLedger) -> None:
        self.services = services
        self.ledger = ledger
        self.base_url = services.settings.base_url.rstrip("/")

    async def set(self, *, subscription_id: str, status: str, reason: str | None, generation: int) -> bool:
        """Write ``status`` (and ``error``: the reason, no secrets in it) unless a client rewrote the
        Subscription since ``generation``. True when the resource now says so."""
        repository = self.services.repository

        async def work(session: Session) -> bool:
            state = await self.ledger.state(subscription_id, session=session)
            if state is None or state.generation != generation:
                return False
            stored = await repository.current(
                resource_type="Subscription", resource_id=subscription_id, session=session
            )
            if stored is None or stored.resource is None:
                return False
            resource: dict[str, Any] = dict(stored.resource)
            resource["status"] = status
            if reason and status in ("error", "off"):
                resource["error"] = reason
            else:
                resource.pop("error", None)
            await repository.replace(
                existing=stored,
                resource_type="Subscription",
                resource_id=subscription_id,
                resource=resource,
                wctx=WriteContext(machinery_context(self.base_url), session),
                expected_version=stored.version,
            )
            await self.ledger.set_status(subscription_id, status=status, session=session)
            return True

        return await repository.transaction(work)
