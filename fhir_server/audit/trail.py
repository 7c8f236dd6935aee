"""The audit trail of one process: its log, its writer, and the calls other layers make to it.

``install_audit`` attaches it to the services (the repository hook that records writes); the
pipeline's observer records every other call; the app's lifespan starts and closes it. The auth
layer reports sign-ins, token issue, refresh and revocation, and account changes with
``security_event``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fhir_server.audit.events import Caller, Server, What, audit_event
from fhir_server.audit.vocabulary import ENTITY_PERSON, SECURITY_EVENTS, SecurityEventKind
from fhir_server.audit.writer import AuditWriter, BuildContext
from fhir_server.store.audit_log import AuditLog
from fhir_server.store.repository import now

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
EXPIRY_SECONDS: Final = 24 * 3600.0  # how often retention runs in a serving process


@dataclass(frozen=True)
class SecurityFacts:
    """A security event as reported, until the writer makes it an AuditEvent."""

    kind: SecurityEventKind
    succeeded: bool
    caller: Caller
    recorded: datetime
    affected: str | None = None  # the account or client the event is about, when another one

    def subsetted(self) -> list[tuple[str, str]]:
        return []

    def build(self, context: BuildContext) -> list[JsonDict]:
        event_type, subtypes, action = SECURITY_EVENTS[self.kind]
        entities: list[JsonDict] = []
        if self.affected:
            entities.append({"what": {"identifier": {"value": self.affected}}, "type": ENTITY_PERSON})
        what = What(
            subtypes=list(subtypes),
            action=action,
            status=200 if self.succeeded else 401,
            error_code=None if self.succeeded else "refused",
            event_type=event_type,
        )
        return [
            audit_event(
                what=what,
                caller=self.caller,
                server=context.server,
                recorded=self.recorded,
                entities=entities,
            )
        ]


@dataclass
class AuditTrail:
    log: AuditLog
    writer: AuditWriter
    server: Server
    retention_days: int = 0
    _expiry: asyncio.Task[None] | None = field(default=None, repr=False)

    async def security_event(
        self,
        *,
        kind: SecurityEventKind,
        succeeded: bool,
        subject: str | None = None,
        username: str | None = None,
        fhir_user: str | None = None,
        client_id: str | None = None,
        origin: str | None = None,
        request_id: str | None = None,
        affected: str | None = None,
    ) -> None:
        """Record a security event (sign-in, token, revocation, account change ...). Never give it
        a password or a token; ``username`` only names the account an attempt was for."""
        caller = Caller(
            subject=subject,
            client_id=client_id,
            fhir_user=fhir_user,
            origin=origin,
            request_id=request_id,
            username=username,
        )
        await self.writer.record(
            SecurityFacts(kind=kind, succeeded=succeeded, caller=caller, recorded=now(), affected=affected)
        )

    async def start(self) -> None:
        """Drain what a crash left in the outbox, then flush periodically and expire daily."""
        await self.writer.start()
        if self.retention_days > 0 and self._expiry is None:
            self._expiry = asyncio.get_running_loop().create_task(self._expire_daily(), name="audit-expiry")

    async def close(self) -> None:
        task, self._expiry = self._expiry, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.writer.close()

    async def expire(self, *, moment: datetime | None = None) -> int:
        """Remove events older than the retention (never a younger one); returns how many."""
        if self.retention_days <= 0:
            return 0
        cutoff = (moment or datetime.now(UTC)) - timedelta(days=self.retention_days)
        removed = await self.log.expire(before=cutoff)
        if removed:
            logger.info("audit retention removed %d events recorded before %s", removed, cutoff.date())
            await self.security_event(
                kind=SecurityEventKind.AUDIT_EXPIRED, succeeded=True, subject="system", client_id="system"
            )
        return removed

    async def _expire_daily(self) -> None:
        while self._expiry is not None:  # close() clears it: the loop ends even if a cancel was swallowed
            try:
                await self.expire()
            except Exception:  # retried tomorrow; nothing is lost by waiting
                logger.exception("audit retention failed")
            if self._expiry is None:
                return
            await asyncio.sleep(EXPIRY_SECONDS)
