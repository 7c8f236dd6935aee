"""Clinic users: creation and password login (with a lockout after repeated failures)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any, Final, cast

from pymongo.errors import DuplicateKeyError

from fhir_server.auth import store
from fhir_server.auth.passwords import hash_password, verify_password
from fhir_server.auth.roles import ROLES

MIN_PASSWORD_LENGTH: Final = 10
MAX_FAILED_LOGINS: Final = 10
LOCKOUT: Final = timedelta(minutes=15)
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
_FHIR_USER = re.compile(
    r"^(Practitioner|PractitionerRole|Patient|RelatedPerson|Person)/[A-Za-z0-9\-.]{1,64}$"
)


class UserError(ValueError):
    """A user that cannot be created as asked (message safe to show)."""


def validate_new_user(*, username: str, password: str, role: str, fhir_user: str | None) -> None:
    if not _USERNAME.match(username):
        raise UserError("username: 2-64 letters, digits or . _ @ -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}")
    if fhir_user is not None and not _FHIR_USER.match(fhir_user):
        raise UserError("fhir user: a reference like Practitioner/123")


async def create_user(
    *, db: store.Database, username: str, password: str, role: str, fhir_user: str | None = None
) -> store.UserDoc:
    """Create a user; raise ``UserError`` when invalid or when the username is taken."""
    validate_new_user(username=username, password=password, role=role, fhir_user=fhir_user)
    document: store.UserDoc = {
        "_id": username,
        "password_hash": await asyncio.to_thread(hash_password, password),
        "role": role,
        "fhir_user": fhir_user,
        "active": True,
        "created_at": store.now_utc(),
        "failed_logins": 0,
        "locked_until": None,
    }
    try:
        await db[store.USERS].insert_one(cast(dict[str, Any], document))
    except DuplicateKeyError as error:
        raise UserError("username already exists") from error
    return document


async def get_user(*, db: store.Database, username: str) -> store.UserDoc | None:
    found = await db[store.USERS].find_one({"_id": username})
    return cast(store.UserDoc | None, found)


async def check_login(*, db: store.Database, username: str, password: str) -> store.UserDoc | None:
    """The active user if the password is right; counts failures and locks after too many."""
    user = await get_user(db=db, username=username)
    ok = await asyncio.to_thread(verify_password, user.get("password_hash") if user else None, password)
    if user is None or not user.get("active", False):
        return None
    locked_until = user.get("locked_until")
    if locked_until is not None and store.as_utc(locked_until) > store.now_utc():
        return None
    users = db[store.USERS]
    if not ok:
        failures = int(user.get("failed_logins", 0)) + 1
        update: dict[str, Any] = {"failed_logins": failures}
        if failures >= MAX_FAILED_LOGINS:
            update = {"failed_logins": 0, "locked_until": store.now_utc() + LOCKOUT}
        await users.update_one({"_id": username}, {"$set": update})
        return None
    if user.get("failed_logins") or locked_until is not None:
        await users.update_one({"_id": username}, {"$set": {"failed_logins": 0, "locked_until": None}})
    return user
