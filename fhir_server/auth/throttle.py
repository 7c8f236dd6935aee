"""Failed sign-in throttling: lock an account name, or a network address, after repeated failures.

Failures are counted per account *name* whether or not such an account exists, so a lockout tells
an attacker nothing about which names are real. A failure window closes ``login_lockout_seconds``
after the last failure (the document's TTL); reaching the limit locks for that long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from pymongo import ReturnDocument

from fhir_server.auth import store
from fhir_server.settings import Settings

USER_PREFIX: Final = "user:"
ADDRESS_PREFIX: Final = "address:"


@dataclass(frozen=True)
class LoginThrottle:
    db: store.Database
    max_failures: int
    max_address_failures: int
    lockout_seconds: int

    @classmethod
    def from_settings(cls, db: store.Database, settings: Settings) -> LoginThrottle:
        return cls(
            db=db,
            max_failures=settings.login_max_failures,
            max_address_failures=settings.login_address_max_failures,
            lockout_seconds=settings.login_lockout_seconds,
        )

    async def blocked(self, *, username: str, address: str | None) -> bool:
        """Is this account name, or this address, locked now?"""
        ids = [_user_key(username)] + ([ADDRESS_PREFIX + address] if address else [])
        now = store.now_utc()
        async for doc in self.db[store.FAILURES].find({"_id": {"$in": ids}}, {"locked_until": 1}):
            locked_until = doc.get("locked_until")
            if locked_until is not None and store.as_utc(locked_until) > now:
                return True
        return False

    async def record_failure(self, *, username: str, address: str | None) -> None:
        await self._count(_user_key(username), self.max_failures)
        if address:
            await self._count(ADDRESS_PREFIX + address, self.max_address_failures)

    async def clear(self, *, username: str) -> None:
        """A successful sign-in forgets the account's failures (not the address's)."""
        await self.db[store.FAILURES].delete_one({"_id": _user_key(username)})

    async def _count(self, key: str, limit: int) -> None:
        window_end = store.expires_in(self.lockout_seconds)
        doc: dict[str, Any] | None = await self.db[store.FAILURES].find_one_and_update(
            {"_id": key},
            {"$inc": {"count": 1}, "$set": {store.EXPIRES_AT: window_end}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None and int(doc.get("count", 0)) >= limit:
            locked_until = store.now_utc() + timedelta(seconds=self.lockout_seconds)
            await self.db[store.FAILURES].update_one(
                {"_id": key},
                {"$set": {"count": 0, "locked_until": locked_until, store.EXPIRES_AT: locked_until}},
            )


def _user_key(username: str) -> str:
    return USER_PREFIX + username.strip().lower()
