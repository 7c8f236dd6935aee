"""The pipeline's gate: the access policy applied at the three places a call meets data.

* On the way in: may this caller perform this interaction on this type at all (403 otherwise)?
* At the write door: every repository write passes :meth:`Guard.check_write` (installed as the
  repository's guard), so no path, conditional or not, bundle entry or operation, can write a
  resource the caller may not read, or content the caller may not write.
* On the way out: a resource the caller may not see is answered exactly as one that does not
  exist (404 with the same OperationOutcome), on every path.
"""

from __future__ import annotations

from typing import Any, Final

from fhir_server.access import AccessGate
from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import Forbidden, NotFound
from fhir_server.store.repository import Indexer, ResourceRepository, Session, StoredResource, WriteContext

WRITE_INTERACTIONS: Final[dict[str, Interaction]] = {
    "POST": Interaction.CREATE,
    "PUT": Interaction.UPDATE,
    "PATCH": Interaction.PATCH,
    "DELETE": Interaction.DELETE,
}


def not_known(resource_type: str, resource_id: str) -> NotFound:
    """The answer for what does not exist and for what the caller may not see: one and the same."""
    return NotFound(f"{resource_type}/{resource_id} is not known")


class Guard:
    def __init__(self, gate: AccessGate, repository: ResourceRepository, indexer: Indexer) -> None:
        self.gate = gate
        self.repository = repository
        self.indexer = indexer

    # ----- in ------------------------------------------------------------------------------------

    def require(self, ctx: RequestContext, interaction: Interaction, resource_type: str | None) -> None:
        self.gate.require(ctx, interaction, resource_type)

    def require_administrator(self, ctx: RequestContext, what: str) -> None:
        if not self.gate.is_administrator(ctx):
            raise Forbidden(f"{what} is an administrative operation: it needs user/*.cruds or system/*.cruds")

    # ----- out -----------------------------------------------------------------------------------

    def can_see(self, ctx: RequestContext, resource: dict[str, Any]) -> bool:
        return self.gate.can_see(ctx, resource)

    def redact(self, ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource as it may leave for this caller (elements its role may not see removed)."""
        return self.gate.redact(ctx, resource)

    def visible(self, ctx: RequestContext, stored: StoredResource) -> StoredResource:
        """The stored version, if the caller may see it; else "not known" (404)."""
        if stored.resource is not None and not self.gate.can_see(ctx, stored.resource):
            raise not_known(stored.resource_type, stored.id)
        return stored

    async def saw_before_deletion(
        self, ctx: RequestContext, stored: StoredResource, session: Session | None = None
    ) -> bool:
        """Whether the caller could see what a deletion (``stored``, a tombstone) removed: only
        such a caller may be told that the id existed (410) or take the id over again."""
        if stored.version <= 1:
            return False
        before = await self.repository.version(
            resource_type=stored.resource_type,
            resource_id=stored.id,
            version=stored.version - 1,
            session=session,
        )
        return before is not None and before.resource is not None and self.gate.can_see(ctx, before.resource)

    # ----- the write door ------------------------------------------------------------------------

    async def check_write(
        self,
        wctx: WriteContext,
        *,
        resource_type: str,
        resource_id: str,
        existing: StoredResource | None,
        incoming: dict[str, Any] | None,
        method: str,
    ) -> dict[str, Any] | None:
        """Refuse a write the caller may not make (what it may not see stays "not known"); return
        what to store: ``incoming``, with the elements the caller may not see kept as they were."""
        ctx = wctx.ctx
        interaction = WRITE_INTERACTIONS[method]
        if existing is not None and existing.resource is not None:
            if not self.gate.can_see(ctx, existing.resource):
                raise not_known(resource_type, resource_id)
            self.gate.check_write(ctx, interaction, existing.resource)
        elif existing is not None:
            if not await self.saw_before_deletion(ctx, existing, wctx.session):
                raise not_known(resource_type, resource_id)
        elif method != "POST" and not self.gate.sees_everything(ctx, resource_type):
            # Creating under a client-chosen id would tell a confined caller whether the id is taken
            # by a resource it may not see: such callers create with POST (the server picks the id).
            raise not_known(resource_type, resource_id)
        if incoming is None:
            return None
        self.gate.check_write(ctx, interaction, incoming)
        self._check_participants(ctx, resource_type, incoming)
        previous = existing.resource if existing is not None else None
        return self.gate.preserve_hidden(ctx, previous, incoming)

    def _check_participants(self, ctx: RequestContext, resource_type: str, resource: dict[str, Any]) -> None:
        """A caller confined to one patient writes only that patient's data: every patient the
        resource belongs to (an Appointment's participants, a Claim's patient ...) must be it."""
        patient = self.gate.confinement(ctx, resource_type)
        if patient is None:
            return
        others = {
            compartment
            for compartment in self.indexer.compartments(resource)
            if compartment.startswith("Patient/") and compartment != patient
        }
        if others:
            raise Forbidden(f"a {resource_type} written with this token may concern only its own patient")
