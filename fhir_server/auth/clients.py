"""OAuth clients (SMART apps and backend services): registration rules and storage."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, cast
from urllib.parse import urlsplit

from pymongo.errors import DuplicateKeyError

from fhir_server.auth import store
from fhir_server.auth.jwks import import_jwks
from fhir_server.auth.scopes import SERVER_SCOPES, ScopeContext, ScopeSyntaxError, parse_scopes, split_scope


class ClientKind(StrEnum):
    PUBLIC = "public"  # browser or native app: PKCE, no secret
    SYMMETRIC = "confidential-symmetric"  # server-side app with a client secret
    ASYMMETRIC = "confidential-asymmetric"  # app authenticating with private_key_jwt
    BACKEND = "backend"  # SMART Backend Services: client_credentials + private_key_jwt


GRANT_AUTHORIZATION_CODE: Final = "authorization_code"
GRANT_REFRESH_TOKEN: Final = "refresh_token"
GRANT_CLIENT_CREDENTIALS: Final = "client_credentials"

GRANTS_BY_KIND: Final[dict[ClientKind, frozenset[str]]] = {
    ClientKind.PUBLIC: frozenset({GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN}),
    ClientKind.SYMMETRIC: frozenset({GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN}),
    ClientKind.ASYMMETRIC: frozenset({GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN}),
    ClientKind.BACKEND: frozenset({GRANT_CLIENT_CREDENTIALS}),
}
# Scope contexts a client kind may hold: apps act for a user or patient, backends for themselves.
CONTEXTS_BY_KIND: Final[dict[ClientKind, frozenset[ScopeContext]]] = {
    ClientKind.PUBLIC: frozenset({ScopeContext.PATIENT, ScopeContext.USER}),
    ClientKind.SYMMETRIC: frozenset({ScopeContext.PATIENT, ScopeContext.USER}),
    ClientKind.ASYMMETRIC: frozenset({ScopeContext.PATIENT, ScopeContext.USER}),
    ClientKind.BACKEND: frozenset({ScopeContext.SYSTEM}),
}
KEY_KINDS: Final = frozenset({ClientKind.ASYMMETRIC, ClientKind.BACKEND})
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{3,128}$")
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


class ClientError(ValueError):
    """A client that cannot be registered as asked (message safe to show)."""


@dataclass(frozen=True)
class RegisteredClient:
    document: store.ClientDoc
    secret: str | None  # shown once, for confidential-symmetric clients


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or (parts.scheme in ("http", "https") and not parts.netloc):
        raise ClientError(f"redirect URI must be absolute, without fragment: {uri}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ClientError(f"redirect URI must use https (plain http only for localhost): {uri}")


def validate_client(
    *,
    kind: ClientKind,
    scopes: list[str],
    redirect_uris: list[str],
    jwks: dict[str, Any] | None,
    jwks_uri: str | None,
) -> None:
    try:
        parsed = parse_scopes(scopes)
    except ScopeSyntaxError as error:
        raise ClientError(str(error)) from error
    allowed_contexts = CONTEXTS_BY_KIND[kind]
    for scope in parsed.clinical:
        if scope.context not in allowed_contexts:
            raise ClientError(f"a {kind} client cannot hold {scope.context}/ scopes: {scope.text}")
    if kind is ClientKind.BACKEND:
        if redirect_uris:
            raise ClientError("a backend client has no redirect URIs")
        if parsed.launch - SERVER_SCOPES:
            raise ClientError("a backend client holds system/ scopes (and this server's admin scope) only")
    elif not redirect_uris:
        raise ClientError("an app needs at least one redirect URI")
    for uri in redirect_uris:
        _check_redirect_uri(uri)
    if kind in KEY_KINDS:
        if (jwks is None) == (jwks_uri is None):
            raise ClientError("give exactly one of a JWKS or a JWKS URL")
        if jwks is not None:
            try:
                import_jwks(jwks)
            except ValueError as error:
                raise ClientError(str(error)) from error
        if jwks_uri is not None and urlsplit(jwks_uri).scheme not in ("https", "http"):
            raise ClientError("JWKS URL must be an http(s) URL")
    elif jwks is not None or jwks_uri is not None:
        raise ClientError(f"a {kind} client does not authenticate with keys")


async def create_client(
    *,
    db: store.Database,
    kind: ClientKind,
    name: str,
    scopes: str,
    redirect_uris: list[str] | None = None,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    client_id: str | None = None,
    role: str | None = None,
    fhir_user: str | None = None,
) -> RegisteredClient:
    """Register a client; the secret of a confidential-symmetric client is returned once, stored hashed.

    ``role`` is recorded (a backend's tokens carry it, so its element rules apply); ``fhir_user`` is
    the resource a backend acts as."""
    scope_list = split_scope(scopes)
    uris = list(redirect_uris or [])
    validate_client(kind=kind, scopes=scope_list, redirect_uris=uris, jwks=jwks, jwks_uri=jwks_uri)
    client_id = client_id or secrets.token_urlsafe(12)
    if not _CLIENT_ID.match(client_id):
        raise ClientError("client id: 3-128 characters from A-Z a-z 0-9 . _ ~ -")
    secret = secrets.token_urlsafe(32) if kind is ClientKind.SYMMETRIC else None
    document: store.ClientDoc = {
        "_id": client_id,
        "kind": kind.value,
        "name": name,
        "secret_hash": store.secret_hash(secret) if secret else None,
        "jwks": jwks,
        "jwks_uri": jwks_uri,
        "redirect_uris": uris,
        "scopes": scope_list,
        "role": role,
        "fhir_user": fhir_user,
        "active": True,
        "gen": 0,
        "created_at": store.now_utc(),
        "updated_at": store.now_utc(),
    }
    try:
        await db[store.CLIENTS].insert_one(cast(dict[str, Any], document))
    except DuplicateKeyError as error:
        raise ClientError("client id already exists") from error
    return RegisteredClient(document=document, secret=secret)


async def get_client(*, db: store.Database, client_id: str) -> store.ClientDoc | None:
    found = await db[store.CLIENTS].find_one({"_id": client_id, "active": True})
    return cast(store.ClientDoc | None, found)


def client_kind(client: store.ClientDoc) -> ClientKind:
    return ClientKind(client.get("kind", ClientKind.PUBLIC))
