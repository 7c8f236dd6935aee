"""Administering OAuth clients: the operations behind ``fhir-server clients ...`` and ``/admin/clients``.

Keyword-only functions raising ``ClientError`` (bad input, 400) or ``ClientNotFound`` (404).
Disabling a client or rotating its credentials ends its access (``standing.end_client_access``):
refresh tokens at once, access tokens within ``revocation_check_seconds``. A rotated secret is
usually a leaked one, so rotation ends tokens too.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from fhir_server.auth import store
from fhir_server.auth.clients import (
    KEY_KINDS,
    ClientError,
    ClientKind,
    RegisteredClient,
    client_kind,
    create_client,
    validate_client,
)
from fhir_server.auth.revocation_cache import RevocationCache
from fhir_server.auth.roles import ROLES
from fhir_server.auth.scopes import ScopeContext
from fhir_server.auth.standing import end_client_access

_REFERENCE: Final = re.compile(r"^(Practitioner|PractitionerRole|Organization|Device)/[A-Za-z0-9\-.]{1,64}$")


class ClientNotFound(LookupError):
    """No client with that id."""


@dataclass(frozen=True)
class ClientView:
    """What an administrator sees of a client (never a secret or its hash)."""

    client_id: str
    kind: str
    name: str
    scopes: list[str]
    redirect_uris: list[str]
    role: str | None
    fhir_user: str | None
    jwks_uri: str | None
    has_jwks: bool
    active: bool
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, client: dict[str, Any]) -> ClientView:
        return cls(
            client_id=str(client["_id"]),
            kind=str(client.get("kind")),
            name=str(client.get("name") or ""),
            scopes=list(client.get("scopes") or []),
            redirect_uris=list(client.get("redirect_uris") or []),
            role=client.get("role"),
            fhir_user=client.get("fhir_user"),
            jwks_uri=client.get("jwks_uri"),
            has_jwks=client.get("jwks") is not None,
            active=bool(client.get("active", False)),
            created_at=client.get("created_at"),
            updated_at=client.get("updated_at"),
        )

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("created_at", "updated_at"):
            moment = data[name]
            data[name] = store.as_utc(moment).isoformat() if isinstance(moment, datetime) else None
        return data


@dataclass(frozen=True)
class Rotated:
    view: ClientView
    secret: str | None  # a confidential-symmetric client's new secret, shown once


def client_scopes(*, kind: ClientKind, scope: str | None, role: str | None, fhir_user: str | None) -> str:
    """The scopes to register: those given plus the role's (``system/`` for backends)."""
    if role is None:
        return scope or ""
    found = ROLES.get(role)
    if found is None:
        raise ClientError(f"role: one of {', '.join(ROLES)}")
    if found.needs_fhir_user and fhir_user is None:
        raise ClientError(
            f"the {role} role needs the resource the client acts as (--fhir-user Organization/...)"
        )
    context = ScopeContext.SYSTEM if kind is ClientKind.BACKEND else ScopeContext.USER
    return " ".join([*(scope or "").split(), *found.scope_texts(context, fhir_user=fhir_user)])


async def register_client(
    *,
    db: store.Database,
    kind: ClientKind,
    name: str,
    scope: str | None = None,
    role: str | None = None,
    fhir_user: str | None = None,
    redirect_uris: list[str] | None = None,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    client_id: str | None = None,
) -> RegisteredClient:
    if fhir_user is not None and not _REFERENCE.match(fhir_user):
        raise ClientError("fhir user: a reference like Organization/123")
    return await create_client(
        db=db,
        kind=kind,
        name=name,
        scopes=client_scopes(kind=kind, scope=scope, role=role, fhir_user=fhir_user),
        redirect_uris=redirect_uris,
        jwks=jwks,
        jwks_uri=jwks_uri,
        client_id=client_id,
        role=role,
        fhir_user=fhir_user,
    )


async def _existing(db: store.Database, client_id: str) -> dict[str, Any]:
    found = await db[store.CLIENTS].find_one({"_id": client_id})
    if found is None:
        raise ClientNotFound(client_id)
    return found


async def list_clients(*, db: store.Database) -> list[ClientView]:
    return [ClientView.of(client) async for client in db[store.CLIENTS].find({}).sort("_id", 1)]


async def show_client(*, db: store.Database, client_id: str) -> ClientView:
    return ClientView.of(await _existing(db, client_id))


async def set_client_active(
    *, db: store.Database, client_id: str, active: bool, cache: RevocationCache | None = None
) -> ClientView:
    await _existing(db, client_id)
    await end_client_access(db=db, client_id=client_id, changes={"active": active}, cache=cache)
    return await show_client(db=db, client_id=client_id)


async def rotate_credentials(
    *,
    db: store.Database,
    client_id: str,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    cache: RevocationCache | None = None,
) -> Rotated:
    """A new secret (confidential-symmetric) or new keys (JWKS or JWKS URL, key-based kinds)."""
    client = await _existing(db, client_id)
    kind = client_kind(cast(store.ClientDoc, client))
    changes: dict[str, Any]
    secret: str | None = None
    if kind is ClientKind.SYMMETRIC:
        if jwks is not None or jwks_uri is not None:
            raise ClientError("a confidential-symmetric client rotates its secret, not keys")
        secret = secrets.token_urlsafe(32)
        changes = {"secret_hash": store.secret_hash(secret)}
    elif kind in KEY_KINDS:
        validate_client(
            kind=kind,
            scopes=list(client.get("scopes") or []),
            redirect_uris=list(client.get("redirect_uris") or []),
            jwks=jwks,
            jwks_uri=jwks_uri,
        )
        changes = {"jwks": jwks, "jwks_uri": jwks_uri}
    else:
        raise ClientError("a public client has no credentials to rotate")
    await end_client_access(db=db, client_id=client_id, changes=changes, cache=cache)
    return Rotated(view=await show_client(db=db, client_id=client_id), secret=secret)
