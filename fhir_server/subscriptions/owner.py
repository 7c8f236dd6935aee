"""Whom a subscription acts for, and whether that one may still receive anything.

A subscription sees only what its creator could search: the creator's authorization (scopes,
patient context) is recorded when the Subscription is written and applied at every match, as the
access constraint of a search by that caller. Whether the creator still holds access at all (an
account disabled, an app unregistered, a grant revoked) is asked of a :class:`CreatorAuthority` at
match time and again before delivery; a subscription whose creator lost access is turned off.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fhir_server.context import Principal, RequestContext


@dataclass(frozen=True)
class Creator:
    """The creator's authorization as it was when the Subscription was written."""

    subject: str | None
    client_id: str | None
    scopes: frozenset[str]
    patient: str | None
    fhir_user: str | None
    encounter: str | None
    recorded_at: datetime

    @classmethod
    def of(cls, principal: Principal, *, at: datetime) -> Creator:
        return cls(
            subject=principal.subject,
            client_id=principal.client_id,
            scopes=principal.scopes,
            patient=principal.patient,
            fhir_user=principal.fhir_user,
            encounter=principal.encounter,
            recorded_at=at,
        )

    def principal(self) -> Principal:
        return Principal(
            subject=self.subject,
            client_id=self.client_id,
            scopes=self.scopes,
            patient=self.patient,
            fhir_user=self.fhir_user,
            encounter=self.encounter,
        )

    def context(self, base_url: str) -> RequestContext:
        """The request context a search by the creator would have."""
        return RequestContext(principal=self.principal(), base_url=base_url, request_id="subscription")

    def to_document(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "client_id": self.client_id,
            "scopes": sorted(self.scopes),
            "patient": self.patient,
            "fhir_user": self.fhir_user,
            "encounter": self.encounter,
            "at": self.recorded_at,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Creator:
        return cls(
            subject=doc.get("subject"),
            client_id=doc.get("client_id"),
            scopes=frozenset(doc.get("scopes") or ()),
            patient=doc.get("patient"),
            fhir_user=doc.get("fhir_user"),
            encounter=doc.get("encounter"),
            recorded_at=doc["at"],
        )


class CreatorAuthority(Protocol):
    """Answers whether a subscription's creator may still receive notifications at all."""

    async def is_still_authorized(self, creator: Creator) -> bool: ...


class AlwaysAuthorized:
    """For deployments without accounts to revoke (authorization disabled, the command line)."""

    async def is_still_authorized(self, creator: Creator) -> bool:
        return True


# Looks an account (user name) or a client up: True active, False disabled, None unknown here.
AccountLookup = Callable[[str], Awaitable[bool | None]]


class ActiveAccounts:
    """The default authority: the creator's user account and client must not have been disabled.

    Subjects and clients the lookups do not know (tokens of an external issuer, development tokens)
    pass: their scopes as granted still bound what they see. Answers are cached for
    ``cache_seconds`` so matching does not ask the database for every change.
    """

    def __init__(
        self,
        *,
        user_active: AccountLookup,
        client_active: AccountLookup,
        cache_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._user_active = user_active
        self._client_active = client_active
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, bool | None]] = {}

    async def is_still_authorized(self, creator: Creator) -> bool:
        if creator.subject and await self._ask("user", creator.subject, self._user_active) is False:
            return False
        return not (
            creator.client_id and await self._ask("client", creator.client_id, self._client_active) is False
        )

    async def _ask(self, kind: str, name: str, lookup: AccountLookup) -> bool | None:
        key = (kind, name)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        answer = await lookup(name)
        self._cache[key] = (now, answer)
        return answer
