"""Accounts follow the clinic's staff records: Practitioner and PractitionerRole.

An account may be linked to a Practitioner (``practitioner``) and to the PractitionerRole that
states its clinic role (``practitioner_role``, code from ``CodeSystem/clinic-staff-role``). A write
to either resource changes the linked accounts in the same transaction:

- Practitioner inactive or deleted, or PractitionerRole inactive, ended (``period.end`` passed) or
  deleted: the accounts lose access (``linked_active`` false) until it is active again;
- PractitionerRole code changed: the accounts take the new role (no clinic role in the code: no
  access);

and every such change ends the accounts' current tokens and sessions (``standing``). An
administrator's ``set-role`` changes the account only; the last change, on either side, wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir_server.auth import store
from fhir_server.auth.revocation_cache import RevocationCache
from fhir_server.auth.roles import role_of_code
from fhir_server.auth.standing import end_user_access
from fhir_server.services import Services
from fhir_server.store.repository import Change, Session, WriteContext, read_current_resource

logger = logging.getLogger(__name__)

PRACTITIONER = "Practitioner"
PRACTITIONER_ROLE = "PractitionerRole"
NO_ROLE = ""  # an account whose PractitionerRole names no clinic role: it gets no scopes


@dataclass(frozen=True)
class RoleFacts:
    """What a PractitionerRole says about its account."""

    practitioner: str | None  # Practitioner id
    role: str  # clinic role, or NO_ROLE
    active: bool


def role_facts(resource: dict[str, Any] | None, today: date | None = None) -> RoleFacts:
    """Facts of a PractitionerRole (None: deleted, so inactive and without a role)."""
    if resource is None:
        return RoleFacts(practitioner=None, role=NO_ROLE, active=False)
    practitioner = _reference_id((resource.get("practitioner") or {}).get("reference"), PRACTITIONER)
    role = NO_ROLE
    for concept in resource.get("code") or []:
        for coding in (concept or {}).get("coding") or []:
            role = role_of_code(coding.get("system"), coding.get("code")) or role
    end = ((resource.get("period") or {}).get("end") or "")[:10]
    ended = bool(end) and end < (today or date.today()).isoformat()
    return RoleFacts(
        practitioner=practitioner, role=role, active=resource.get("active", True) is not False and not ended
    )


def practitioner_active(resource: dict[str, Any] | None) -> bool:
    return resource is not None and resource.get("active", True) is not False


def _reference_id(reference: Any, resource_type: str) -> str | None:
    """``Practitioner/1`` (relative, absolute or versioned) -> ``1``."""
    marker = f"{resource_type}/"
    if not isinstance(reference, str) or marker not in reference:
        return None
    return reference.rsplit(marker, 1)[1].split("/")[0] or None


async def read_current(
    db: store.Database, resource_type: str, resource_id: str, session: Session | None = None
) -> dict[str, Any] | None:
    """The stored resource (None when absent or deleted)."""
    return await read_current_resource(db, resource_type, resource_id, session)


@dataclass(frozen=True)
class Link:
    """How a new or relinked account hangs off the staff records."""

    practitioner: str | None
    practitioner_role: str | None
    role: str | None  # from the PractitionerRole, if linked to one
    linked_active: bool
    fhir_user: str | None


class LinkError(ValueError):
    """A link to a staff record that does not exist (message safe to show)."""


async def resolve_link(
    db: store.Database, *, practitioner: str | None, practitioner_role: str | None, fhir_user: str | None
) -> Link:
    """Check the staff records exist and read what they say; raise ``LinkError``."""
    role: str | None = None
    active = True
    if practitioner_role is not None:
        resource = await read_current(db, PRACTITIONER_ROLE, practitioner_role)
        if resource is None:
            raise LinkError(f"PractitionerRole/{practitioner_role} does not exist")
        facts = role_facts(resource)
        if practitioner is not None and facts.practitioner not in (None, practitioner):
            raise LinkError(f"PractitionerRole/{practitioner_role} belongs to another Practitioner")
        practitioner = practitioner or facts.practitioner
        role, active = facts.role, facts.active
    if practitioner is not None:
        resource = await read_current(db, PRACTITIONER, practitioner)
        if resource is None:
            raise LinkError(f"Practitioner/{practitioner} does not exist")
        active = active and practitioner_active(resource)
    if fhir_user is None and practitioner is not None:
        fhir_user = f"{PRACTITIONER}/{practitioner}"
    return Link(practitioner, practitioner_role, role, active, fhir_user)


class StaffSync:
    """A repository ``WriteHook``: Practitioner and PractitionerRole writes reach linked accounts."""

    def __init__(self, db: store.Database, on_change: Callable[[], None] | None = None) -> None:
        self.db = db
        self.on_change = on_change  # called after accounts changed (the revocation cache's invalidate)

    async def __call__(self, wctx: WriteContext, change: Change) -> None:
        if change.resource_type == PRACTITIONER:
            await self._practitioner(wctx.session, change.resource_id, change.previous, change.current)
        elif change.resource_type == PRACTITIONER_ROLE:
            await self._practitioner_role(wctx.session, change.resource_id, change.previous, change.current)

    async def _practitioner(
        self,
        session: Session,
        resource_id: str,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
    ) -> None:
        if previous is not None and practitioner_active(previous) == practitioner_active(current):
            return
        async for user in self.db[store.USERS].find({"practitioner": resource_id}, session=session):
            await self._apply(session, user, linked_active=await self._linked_active(session, user, current))

    async def _practitioner_role(
        self,
        session: Session,
        resource_id: str,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
    ) -> None:
        before, after = role_facts(previous), role_facts(current)
        if previous is not None and before == after:
            return
        async for user in self.db[store.USERS].find({"practitioner_role": resource_id}, session=session):
            practitioner = None
            if user.get("practitioner"):
                practitioner = await read_current(self.db, PRACTITIONER, user["practitioner"], session)
            linked_active = after.active and (
                not user.get("practitioner") or practitioner_active(practitioner)
            )
            role = after.role if previous is None or before.role != after.role else None
            await self._apply(session, user, linked_active=linked_active, role=role)

    async def _linked_active(
        self, session: Session, user: dict[str, Any], practitioner: dict[str, Any] | None
    ) -> bool:
        if not practitioner_active(practitioner):
            return False
        if not user.get("practitioner_role"):
            return True
        held = await read_current(self.db, PRACTITIONER_ROLE, user["practitioner_role"], session)
        return role_facts(held).active

    async def _apply(
        self, session: Session, user: dict[str, Any], *, linked_active: bool, role: str | None = None
    ) -> None:
        changes: dict[str, Any] = {}
        if bool(user.get("linked_active", True)) != linked_active:
            changes["linked_active"] = linked_active
        if role is not None and role != user.get("role"):
            changes["role"] = role
        if not changes:
            return
        await end_user_access(db=self.db, username=user["_id"], changes=changes, session=session)
        logger.info("a staff record change ended a linked account's tokens")
        if self.on_change is not None:
            self.on_change()


def install_staff_sync(services: Services, cache: RevocationCache | None = None) -> None:
    """Register the hook on the services' repository (``cache``: this process's revocation
    snapshot, refreshed at once when accounts change)."""
    on_change = cache.invalidate if cache is not None else None
    services.repository.hooks.append(StaffSync(services.repository.db, on_change=on_change))
