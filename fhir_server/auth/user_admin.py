"""Administering user accounts: the operations behind ``fhir-server users ...`` and ``/admin/users``.

Every function is keyword-only and raises ``UserError`` (bad input, 400) or ``AccountNotFound``
(404). Disabling, changing the role and resetting the password end the account's access
(``standing.end_user_access``): refresh tokens and sessions at once, access tokens within
``revocation_check_seconds``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from fhir_server.auth import store
from fhir_server.auth.revocation_cache import RevocationCache, user_is_active
from fhir_server.auth.staff_sync import LinkError, resolve_link
from fhir_server.auth.standing import end_user_access
from fhir_server.auth.users import (
    UserError,
    check_resource_id,
    check_role,
    create_user,
    get_user,
    set_password,
)

RESET_PREFIX: Final = "reset:"
ResetMode = Literal["link", "temporary"]


class AccountNotFound(LookupError):
    """No account with that name."""


@dataclass(frozen=True)
class AccountView:
    """What an administrator sees of an account (never the password hash or the TOTP secret)."""

    username: str
    role: str
    active: bool  # the administrator's switch
    linked_active: bool  # the staff records' say
    can_sign_in: bool
    fhir_user: str | None
    practitioner: str | None
    practitioner_role: str | None
    must_change_password: bool
    totp_enrolled: bool
    totp_required: bool
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, user: dict[str, Any]) -> AccountView:
        return cls(
            username=str(user["_id"]),
            role=str(user.get("role") or ""),
            active=bool(user.get("active", False)),
            linked_active=bool(user.get("linked_active", True)),
            can_sign_in=user_is_active(user),
            fhir_user=user.get("fhir_user"),
            practitioner=user.get("practitioner"),
            practitioner_role=user.get("practitioner_role"),
            must_change_password=bool(user.get("must_change_password", False)),
            totp_enrolled=bool(user.get("totp_secret")),
            totp_required=bool(user.get("totp_required", False)),
            created_at=user.get("created_at"),
            updated_at=user.get("updated_at"),
        )

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("created_at", "updated_at"):
            moment = data[name]
            data[name] = store.as_utc(moment).isoformat() if isinstance(moment, datetime) else None
        return data


@dataclass(frozen=True)
class PasswordReset:
    mode: ResetMode
    link: str | None = None  # the one-time link (mode "link")
    temporary_password: str | None = None  # generated when none was given (mode "temporary")
    expires_in: int | None = None


async def _existing(db: store.Database, username: str) -> dict[str, Any]:
    user = await get_user(db=db, username=username)
    if user is None:
        raise AccountNotFound(username)
    return dict(user)


async def create_account(
    *,
    db: store.Database,
    username: str,
    password: str,
    role: str | None,
    practitioner: str | None = None,
    practitioner_role: str | None = None,
    fhir_user: str | None = None,
    must_change_password: bool = False,
    totp_required: bool = False,
) -> AccountView:
    """Create an account, linked to its staff records when they are named."""
    check_resource_id(practitioner, "practitioner")
    check_resource_id(practitioner_role, "practitioner role")
    try:
        link = await resolve_link(
            db, practitioner=practitioner, practitioner_role=practitioner_role, fhir_user=fhir_user
        )
    except LinkError as error:
        raise UserError(str(error)) from error
    created = await create_user(
        db=db,
        username=username,
        password=password,
        role=role,
        link=link,
        must_change_password=must_change_password,
        totp_required=totp_required,
    )
    return AccountView.of(dict(created))


async def list_accounts(*, db: store.Database) -> list[AccountView]:
    return [AccountView.of(user) async for user in db[store.USERS].find({}).sort("_id", 1)]


async def show_account(*, db: store.Database, username: str) -> AccountView:
    return AccountView.of(await _existing(db, username))


async def set_active(
    *, db: store.Database, username: str, active: bool, cache: RevocationCache | None = None
) -> AccountView:
    """Disable (or enable) an account; either way its current tokens end (enabling starts afresh)."""
    await _existing(db, username)
    await end_user_access(db=db, username=username, changes={"active": active}, cache=cache)
    return await show_account(db=db, username=username)


async def set_role(
    *, db: store.Database, username: str, role: str, cache: RevocationCache | None = None
) -> AccountView:
    """Give the account another role; its tokens end, the next sign-in gets the new role's scopes."""
    check_role(role)
    await _existing(db, username)
    await end_user_access(db=db, username=username, changes={"role": role}, cache=cache)
    return await show_account(db=db, username=username)


async def reset_password(
    *,
    db: store.Database,
    username: str,
    mode: ResetMode,
    link_base: str,
    lifetime: int,
    password: str | None = None,
    cache: RevocationCache | None = None,
) -> PasswordReset:
    """End the account's access and either issue a one-time link to choose a new password (the old
    one stops working at once) or set a temporary password that must be changed at next sign-in."""
    await _existing(db, username)
    if mode == "link":
        await set_password(db=db, username=username, password=secrets.token_urlsafe(32), must_change=True)
        token = secrets.token_urlsafe(32)
        await db[store.RESETS].delete_many({"username": username})
        await db[store.RESETS].insert_one(
            {
                "_id": reset_id(token),
                "username": username,
                store.EXPIRES_AT: store.expires_in(lifetime),
            }
        )
        await end_user_access(db=db, username=username, cache=cache)
        return PasswordReset(mode="link", link=f"{link_base}?token={token}", expires_in=lifetime)
    generated = password is None
    temporary = password if password is not None else secrets.token_urlsafe(12)
    await set_password(db=db, username=username, password=temporary, must_change=True)
    await end_user_access(db=db, username=username, cache=cache)
    return PasswordReset(mode="temporary", temporary_password=temporary if generated else None)


def reset_id(token: str) -> str:
    return RESET_PREFIX + store.secret_hash(token)


async def set_totp(
    *,
    db: store.Database,
    username: str,
    remove: bool = False,
    required: bool | None = None,
    cache: RevocationCache | None = None,
) -> AccountView:
    """Forget the account's TOTP secret (a lost phone: it enrols again at next sign-in) and/or
    require TOTP for this account whatever its role."""
    await _existing(db, username)
    changes: dict[str, Any] = {}
    if required is not None:
        changes["totp_required"] = required
    if remove:
        changes["totp_secret"] = None
        await end_user_access(db=db, username=username, changes=changes, cache=cache)
    elif changes:
        await db[store.USERS].update_one({"_id": username}, {"$set": changes})
    return await show_account(db=db, username=username)


__all__ = [
    "AccountNotFound",
    "AccountView",
    "PasswordReset",
    "UserError",
    "create_account",
    "list_accounts",
    "reset_password",
    "set_active",
    "set_role",
    "set_totp",
    "show_account",
]
