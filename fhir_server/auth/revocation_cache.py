"""Is an access token of ours still good? Revocation, checked on every request without a query.

A token is refused when its ``jti`` or its grant was revoked (RFC 7009, refresh-token reuse, a replayed
code), when it names a user account that is disabled, inactive in FHIR or of a newer generation
(role change, password reset, disable), or when it was issued to a client that is disabled or of a
newer generation. All of this fits in memory for a clinic (accounts, clients, live revocation
markers), so each process keeps a snapshot and reads it again when it is older than
``revocation_check_seconds`` (at most 60): a revocation made by another process or by the command
line bites within that time, one made by this process at once (``invalidate``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.auth import store
from fhir_server.auth.tokens import (
    CLAIM_CLIENT_GENERATION,
    CLAIM_CLIENT_ID,
    CLAIM_GRANT,
    CLAIM_USER_GENERATION,
)


@dataclass(frozen=True)
class Standing:
    generation: int
    active: bool


@dataclass(frozen=True)
class Snapshot:
    users: dict[str, Standing]
    clients: dict[str, Standing]
    revoked_tokens: frozenset[str]  # auth_tokens ids of revocation markers (jti and grant)

    def reason_refused(self, claims: dict[str, Any]) -> str | None:
        """Why the token is no longer good, or None (a reason safe to log and return)."""
        return self.check(claims)[0]

    def check(self, claims: dict[str, Any]) -> tuple[str | None, bool]:
        """(why the token is refused or None, whether the token is newer than this snapshot).

        A token names a generation it was issued under after a fresh check of the database, so one
        newer than the snapshot (or of an account or client the snapshot does not know yet) is
        trusted, and tells the caller to read the snapshot again.
        """
        if any(marker in self.revoked_tokens for marker in _markers(claims)):
            return "token revoked", False
        newer = False
        if CLAIM_USER_GENERATION in claims:
            user = self.users.get(str(claims.get("sub")))
            generation = claims[CLAIM_USER_GENERATION]
            if user is None or generation > user.generation:
                newer = True
            elif not user.active or user.generation != generation:
                return "token revoked: the account was disabled or changed", False
        client_id = str(claims.get(CLAIM_CLIENT_ID))
        client = self.clients.get(client_id)
        generation = claims.get(CLAIM_CLIENT_GENERATION, 0)
        if (client is None and CLAIM_CLIENT_GENERATION in claims) or (
            client is not None and generation > client.generation
        ):
            newer = True
        elif client is not None and (not client.active or client.generation != generation):
            return "token revoked: the app was disabled or changed", False
        return None, newer


def user_is_active(user: dict[str, Any]) -> bool:
    return bool(user.get("active", False)) and bool(user.get("linked_active", True))


_USER_FIELDS = {store.GENERATION: 1, "active": 1, "linked_active": 1}
_CLIENT_FIELDS = {store.GENERATION: 1, "active": 1}
_MARKER_KINDS = [store.KIND_REVOKED_ACCESS, store.KIND_REVOKED_GRANT]


async def load_snapshot(db: store.Database, claims: dict[str, Any] | None = None) -> Snapshot:
    """Read accounts, clients and live revocation markers (three small queries); with ``claims``,
    only what concerns that one token (introspection wants the truth of this instant)."""
    user_filter: dict[str, Any] = {}
    client_filter: dict[str, Any] = {}
    marker_filter: dict[str, Any] = {"kind": {"$in": _MARKER_KINDS}}
    if claims is not None:
        user_filter = {"_id": str(claims.get("sub"))}
        client_filter = {"_id": str(claims.get(CLAIM_CLIENT_ID))}
        marker_filter = {"_id": {"$in": _markers(claims)}}
    users = {
        str(doc["_id"]): Standing(int(doc.get(store.GENERATION, 0)), user_is_active(doc))
        async for doc in db[store.USERS].find(user_filter, _USER_FIELDS)
    }
    clients = {
        str(doc["_id"]): Standing(int(doc.get(store.GENERATION, 0)), bool(doc.get("active", False)))
        async for doc in db[store.CLIENTS].find(client_filter, _CLIENT_FIELDS)
    }
    markers = frozenset([str(doc["_id"]) async for doc in db[store.TOKENS].find(marker_filter, {"_id": 1})])
    return Snapshot(users=users, clients=clients, revoked_tokens=markers)


def _markers(claims: dict[str, Any]) -> list[str]:
    markers = [store.revoked_access_id(str(claims.get("jti")))]
    grant = claims.get(CLAIM_GRANT)
    if isinstance(grant, str):
        markers.append(store.revoked_grant_id(grant))
    return markers


class RevocationCache:
    """The snapshot of one process, read again when older than ``max_age`` seconds."""

    def __init__(self, db: store.Database, *, max_age: float, clock: Callable[[], float] = time.monotonic):
        self._db = db
        self._max_age = max_age
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._loaded_at = 0.0
        self._epoch = 0  # bumped by invalidate: a snapshot read meanwhile may predate the change
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Read again before the next check (this process just revoked something)."""
        self._snapshot = None
        self._epoch += 1

    async def reason_refused(self, claims: dict[str, Any]) -> str | None:
        reason, newer = (await self._current()).check(claims)
        if newer:
            self.invalidate()  # the snapshot predates this token's issue: catch up
        return reason

    async def _current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and self._clock() - self._loaded_at < self._max_age:
            return snapshot
        async with self._lock:
            # Another request may have read it while this one waited.
            if self._snapshot is not None and self._clock() - self._loaded_at < self._max_age:
                return self._snapshot
            started, epoch = self._clock(), self._epoch
            snapshot = await load_snapshot(self._db)
            if epoch == self._epoch:
                self._snapshot, self._loaded_at = snapshot, started
            return snapshot
