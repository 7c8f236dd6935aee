"""Clinic user accounts: the stored shape, creation, and the password check."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Final, cast

from pymongo.errors import DuplicateKeyError

from fhir_server.auth import store
from fhir_server.auth.passwords import hash_password, verify_password
from fhir_server.auth.roles import ROLES
from fhir_server.auth.staff_sync import Link

MIN_PASSWORD_LENGTH: Final = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
_FHIR_USER = re.compile(
    r"^(Practitioner|PractitionerRole|Patient|RelatedPerson|Person)/[A-Za-z0-9\-.]{1,64}$"
)
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class UserError(ValueError):
    """A user that cannot be created or changed as asked (message safe to show)."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}")


def validate_new_user(*, username: str, password: str, role: str | None, fhir_user: str | None) -> None:
    if not _USERNAME.match(username):
        raise UserError("username: 2-64 letters, digits or . _ @ -")
    check_password_rules(password)
    if role is not None:
        check_role(role)
    if fhir_user is not None and not _FHIR_USER.match(fhir_user):
        raise UserError("fhir user: a reference like Practitioner/123")


def check_resource_id(value: str | None, what: str) -> None:
    if value is not None and not _ID.match(value):
        raise UserError(f"{what}: a FHIR id like 123 (not a reference)")


async def create_user(
    *,
    db: store.Database,
    username: str,
    password: str,
    role: str | None,
    link: Link | None = None,
    fhir_user: str | None = None,
    must_change_password: bool = False,
    totp_required: bool = False,
) -> store.UserDoc:
    """Create a user; raise ``UserError`` when invalid or when the username is taken.

    With a ``link`` to a PractitionerRole the role comes from it (``role`` must then agree or be None).
    """
    link = link or Link(None, None, None, True, fhir_user)
    if link.role is not None:
        if role not in (None, link.role):
            raise UserError(
                f"role: PractitionerRole/{link.practitioner_role} says {link.role or 'no clinic role'}"
            )
        role = link.role
    if role is None:
        raise UserError("role: give --role, or link a PractitionerRole whose code names one")
    validate_new_user(username=username, password=password, role=role or None, fhir_user=link.fhir_user)
    now = store.now_utc()
    document: store.UserDoc = {
        "_id": username,
        "password_hash": await asyncio.to_thread(hash_password, password),
        "role": role,
        "fhir_user": link.fhir_user,
        "practitioner": link.practitioner,
        "practitioner_role": link.practitioner_role,
        "active": True,
        "linked_active": link.linked_active,
        "gen": 0,
        "must_change_password": must_change_password,
        "totp_secret": None,
        "totp_required": totp_required,
        "created_at": now,
        "updated_at": now,
    }
    try:
        await db[store.USERS].insert_one(cast(dict[str, Any], document))
    except DuplicateKeyError as error:
        raise UserError("username already exists") from error
    return document


async def get_user(*, db: store.Database, username: str) -> store.UserDoc | None:
    found = await db[store.USERS].find_one({"_id": username})
    return cast(store.UserDoc | None, found)


async def password_matches(*, db: store.Database, username: str, password: str) -> store.UserDoc | None:
    """The account when the password is right (active or not: the caller decides); the same work is
    done for an unknown name, so timing tells nothing."""
    user = await get_user(db=db, username=username)
    ok = await asyncio.to_thread(verify_password, user.get("password_hash") if user else None, password)
    return user if ok and user is not None else None


async def set_password(
    *, db: store.Database, username: str, password: str, must_change: bool = False
) -> None:
    """Store a new password hash (the caller ends the account's access: ``standing``)."""
    check_password_rules(password)
    hashed = await asyncio.to_thread(hash_password, password)
    await db[store.USERS].update_one(
        {"_id": username}, {"$set": {"password_hash": hashed, "must_change_password": must_change}}
    )
