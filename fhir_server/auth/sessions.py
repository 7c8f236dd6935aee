"""Sign-in sessions: a staff member signs in once (password, and code if needed) per shift.

The cookie holds a random token; the database keeps its hash, the account and the account's
generation at sign-in, so disabling, demoting or resetting the account ends the session too (as
does ``standing.end_user_access``, which deletes them).
"""

from __future__ import annotations

import secrets
from typing import Any, Final

from fhir_server.auth import store
from fhir_server.auth.revocation_cache import user_is_active

SESSION_PREFIX: Final = "session:"


def session_id(token: str) -> str:
    return SESSION_PREFIX + store.secret_hash(token)


async def open_session(
    *, db: store.Database, username: str, generation: int, auth_time: int, lifetime: int
) -> str:
    token = secrets.token_urlsafe(32)
    await db[store.SESSIONS].insert_one(
        {
            "_id": session_id(token),
            "username": username,
            "generation": generation,
            "auth_time": auth_time,
            store.EXPIRES_AT: store.expires_in(lifetime),
        }
    )
    return token


async def session_user(*, db: store.Database, token: str | None) -> tuple[dict[str, Any], int] | None:
    """The signed-in account and its sign-in time, when the session is still good."""
    if not token:
        return None
    session = await db[store.SESSIONS].find_one({"_id": session_id(token)})
    if session is None or store.is_expired(session):
        return None
    user = await db[store.USERS].find_one({"_id": session["username"]})
    if (
        user is None
        or not user_is_active(user)
        or int(user.get(store.GENERATION, 0)) != session["generation"]
    ):
        return None
    if user.get("must_change_password"):
        return None
    return user, int(session["auth_time"])


async def close_session(*, db: store.Database, token: str | None) -> None:
    if token:
        await db[store.SESSIONS].delete_one({"_id": session_id(token)})
