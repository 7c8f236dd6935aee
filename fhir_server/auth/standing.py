"""Ending access: what disabling, demoting or resetting an account (or an app) does to its tokens.

Every such change bumps the account's (client's) *generation*. Refresh tokens and sign-in sessions
are revoked at once, here; access tokens carry the generation they were issued under and are
refused by ``revocation_cache`` within ``revocation_check_seconds``. The token endpoint also checks
the current standing before issuing anything (``check_standing``).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from fhir_server.auth import store
from fhir_server.auth.revocation_cache import RevocationCache, user_is_active


async def end_user_access(
    *,
    db: store.Database,
    username: str,
    changes: dict[str, Any] | None = None,
    session: AsyncClientSession | None = None,
    cache: RevocationCache | None = None,
) -> bool:
    """Apply ``changes`` to the account, bump its generation, revoke its refresh tokens and
    sessions. False when there is no such account."""
    update: dict[str, Any] = {
        "$inc": {store.GENERATION: 1},
        "$set": {**(changes or {}), "updated_at": store.now_utc()},
    }
    found = await db[store.USERS].update_one({"_id": username}, update, session=session)
    if found.matched_count == 0:
        return False
    await db[store.TOKENS].update_many(
        {"kind": store.KIND_REFRESH, "subject": username}, {"$set": {"revoked": True}}, session=session
    )
    await db[store.SESSIONS].delete_many({"username": username}, session=session)
    if cache is not None:
        cache.invalidate()
    return True


async def end_client_access(
    *,
    db: store.Database,
    client_id: str,
    changes: dict[str, Any] | None = None,
    cache: RevocationCache | None = None,
) -> bool:
    """Apply ``changes`` to the client, bump its generation and revoke every refresh token issued
    to it. False when there is no such client."""
    update: dict[str, Any] = {
        "$inc": {store.GENERATION: 1},
        "$set": {**(changes or {}), "updated_at": store.now_utc()},
    }
    found = await db[store.CLIENTS].update_one({"_id": client_id}, update)
    if found.matched_count == 0:
        return False
    await db[store.TOKENS].update_many(
        {"kind": store.KIND_REFRESH, "client_id": client_id}, {"$set": {"revoked": True}}
    )
    if cache is not None:
        cache.invalidate()
    return True


async def current_user_generation(db: store.Database, username: str) -> int | None:
    """The account's generation if it may get tokens now (active, and active in FHIR), else None."""
    user = await db[store.USERS].find_one(
        {"_id": username}, {store.GENERATION: 1, "active": 1, "linked_active": 1}
    )
    if user is None or not user_is_active(user):
        return None
    return int(user.get(store.GENERATION, 0))


async def current_client_generation(db: store.Database, client_id: str) -> int | None:
    client = await db[store.CLIENTS].find_one({"_id": client_id}, {store.GENERATION: 1, "active": 1})
    if client is None or not client.get("active", False):
        return None
    return int(client.get(store.GENERATION, 0))
