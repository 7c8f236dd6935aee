"""The token endpoint's grants: authorization_code (+PKCE), refresh_token (rotation with reuse
detection), client_credentials (SMART Backend Services)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final

from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidScopeError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, compare_s256_code_challenge

from fhir_server.auth import store
from fhir_server.auth.client_auth import AuthenticatedClient, authenticate_client
from fhir_server.auth.clients import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_REFRESH_TOKEN,
    GRANTS_BY_KIND,
)
from fhir_server.auth.consent import code_id
from fhir_server.auth.revocation import revoke_grant
from fhir_server.auth.scopes import (
    SERVER_SCOPES,
    ScopeContext,
    ScopeSyntaxError,
    covers,
    narrow_scopes,
    parse_scopes,
    split_scope,
)
from fhir_server.auth.standing import current_client_generation, current_user_generation
from fhir_server.auth.state import AuthState
from fhir_server.auth.tokens import TokenSubject, issue_access_token, issue_id_token, new_token_id

REFRESH_SCOPES: Final = frozenset({"offline_access", "online_access"})
TOKEN_RESPONSE_HEADERS: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

TokenBody = dict[str, Any]
GrantHandler = Callable[
    [AuthState, store.Database, AuthenticatedClient, Mapping[str, str]], Awaitable[TokenBody]
]


def _raise(error_class: Any, description: str) -> Exception:
    error: Exception = error_class(description=description)
    return error


async def exchange(
    *, auth: AuthState, db: store.Database, form: Mapping[str, str], headers: Mapping[str, str]
) -> TokenBody:
    """Handle one token request; raise authlib ``OAuth2Error``s for every refusal."""
    grant_type = form.get("grant_type", "")
    handler = GRANT_HANDLERS.get(grant_type)
    if handler is None:
        raise _raise(UnsupportedGrantTypeError, "unsupported grant_type")
    client = await authenticate_client(
        db=db, form=form, headers=headers, token_endpoint=auth.urls.token, remote_keys=auth.remote_keys
    )
    if grant_type not in GRANTS_BY_KIND[client.kind]:
        raise _raise(UnauthorizedClientError, "this client may not use this grant type")
    return await handler(auth, db, client, form)


async def _authorization_code(
    auth: AuthState, db: store.Database, client: AuthenticatedClient, form: Mapping[str, str]
) -> TokenBody:
    code = form.get("code", "")
    codes = db[store.CODES]
    document = await codes.find_one_and_update(
        {"_id": code_id(code), "kind": store.KIND_CODE, "used": False}, {"$set": {"used": True}}
    )
    if document is None:
        replayed = await codes.find_one({"_id": code_id(code), "kind": store.KIND_CODE})
        if replayed is not None:
            # RFC 6749 4.1.2: a code used twice revokes what was issued from it.
            await revoke_grant(db=db, grant_id=replayed["grant_id"], settings=auth.settings, cache=auth.cache)
        raise _raise(InvalidGrantError, "invalid or already used authorization code")
    if store.is_expired(document) or document["client_id"] != client.client_id:
        raise _raise(InvalidGrantError, "invalid authorization code")
    if form.get("redirect_uri") != document["redirect_uri"]:
        raise _raise(InvalidGrantError, "redirect_uri does not match the authorization request")
    verifier = form.get("code_verifier", "")
    if not CODE_VERIFIER_PATTERN.match(verifier) or not compare_s256_code_challenge(
        verifier, document["code_challenge"]
    ):
        raise _raise(InvalidGrantError, "PKCE code_verifier does not match")
    who = TokenSubject(
        subject=document["subject"],
        client_id=client.client_id,
        scopes=tuple(document["scopes"]),
        patient=document.get("patient"),
        encounter=document.get("encounter"),
        fhir_user=document.get("fhir_user"),
        grant_id=document["grant_id"],
        role=document.get("role"),
        user_generation=document.get("user_generation"),
        client_generation=client.generation,
    )
    grant_ends = store.expires_in(auth.settings.refresh_token_absolute_lifetime)
    body = await _issue(
        auth, db, who, nonce=document.get("nonce"), auth_time=document.get("auth_time"), grant_ends=grant_ends
    )
    if who.patient:
        body["need_patient_banner"] = True
    return body


async def _refresh_token(
    auth: AuthState, db: store.Database, client: AuthenticatedClient, form: Mapping[str, str]
) -> TokenBody:
    token_id = store.refresh_id(form.get("refresh_token", ""))
    tokens = db[store.TOKENS]
    document = await tokens.find_one({"_id": token_id, "kind": store.KIND_REFRESH})
    if document is None or document.get("revoked") or store.is_expired(document):
        raise _raise(InvalidGrantError, "invalid refresh token")
    grant_ends = document.get("grant_expires_at")
    if grant_ends is not None and store.as_utc(grant_ends) <= store.now_utc():
        raise _raise(InvalidGrantError, "the grant has reached its absolute lifetime; sign in again")
    if document["client_id"] != client.client_id:
        raise _raise(InvalidGrantError, "invalid refresh token")
    scopes = _downscope(list(document["scopes"]), form.get("scope"))  # before the token is spent
    claimed = await tokens.find_one_and_update(
        {"_id": token_id, "used": False, "revoked": False},
        {"$set": {"used": True, "used_at": store.now_utc()}},
    )
    if claimed is None:
        # A rotated-out token came back: someone holds a copy. Revoke the whole grant.
        await revoke_grant(db=db, grant_id=document["grant_id"], settings=auth.settings, cache=auth.cache)
        raise _raise(InvalidGrantError, "refresh token reuse detected; the grant is revoked")
    who = TokenSubject(
        subject=document["subject"],
        client_id=client.client_id,
        scopes=tuple(scopes),
        patient=document.get("patient"),
        encounter=document.get("encounter"),
        fhir_user=document.get("fhir_user"),
        grant_id=document["grant_id"],
        role=document.get("role"),
        user_generation=document.get("user_generation"),
        client_generation=document.get("client_generation"),
    )
    # Grants from before absolute lifetimes existed end one idle lifetime from now at the latest.
    grant_ends = document.get("grant_expires_at") or document[store.EXPIRES_AT]
    return await _issue(auth, db, who, nonce=None, auth_time=None, grant_ends=store.as_utc(grant_ends))


def _downscope(granted: list[str], requested: str | None) -> list[str]:
    """A refresh may ask for fewer scopes than were granted, never more."""
    if requested is None:
        return granted
    try:
        held = parse_scopes(granted)
        asked = parse_scopes(split_scope(requested))
    except ScopeSyntaxError as error:
        raise _raise(InvalidScopeError, "malformed scope") from error
    beyond = [scope for scope in asked.clinical if not any(covers(limit, scope) for limit in held.clinical)]
    if beyond or not asked.launch <= held.launch:
        raise _raise(InvalidScopeError, "a refresh cannot widen the granted scopes")
    return asked.texts


async def _client_credentials(
    auth: AuthState, db: store.Database, client: AuthenticatedClient, form: Mapping[str, str]
) -> TokenBody:
    try:
        requested = parse_scopes(split_scope(form.get("scope")))
        limits = parse_scopes(client.client.get("scopes", [])).clinical
    except ScopeSyntaxError as error:
        raise _raise(InvalidScopeError, "malformed scope") from error
    system = [scope for scope in requested.clinical if scope.context is ScopeContext.SYSTEM]
    held = set(client.client.get("scopes", []))
    server_scopes = sorted(scope for scope in requested.launch if scope in SERVER_SCOPES and scope in held)
    granted = [*server_scopes, *narrow_scopes(system, limits)]
    if not granted:
        raise _raise(InvalidScopeError, "no requested system/ scope is allowed for this client")
    who = TokenSubject(
        subject=client.client_id,
        client_id=client.client_id,
        scopes=tuple(granted),
        role=client.client.get("role"),
        fhir_user=client.client.get("fhir_user"),
        client_generation=client.generation,
    )
    return await _issue(auth, db, who, nonce=None, auth_time=None, allow_refresh=False)


async def _check_standing(db: store.Database, who: TokenSubject) -> None:
    """Issue nothing for an account or client disabled or changed since the grant was made."""
    if who.user_generation is not None:
        current = await current_user_generation(db, who.subject)
        if current != who.user_generation:
            raise _raise(InvalidGrantError, "the account was disabled or changed since this grant")
    current_client = await current_client_generation(db, who.client_id)
    if current_client != (who.client_generation or 0):
        raise _raise(InvalidGrantError, "the app was disabled or changed since this grant")


async def _issue(
    auth: AuthState,
    db: store.Database,
    who: TokenSubject,
    *,
    nonce: str | None,
    auth_time: int | None,
    allow_refresh: bool = True,
    grant_ends: datetime | None = None,
) -> TokenBody:
    settings = auth.settings
    await _check_standing(db, who)
    access = issue_access_token(
        key=auth.server_key, urls=auth.urls, who=who, lifetime=settings.access_token_lifetime
    )
    body: TokenBody = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_lifetime,
        "scope": who.scope,
    }
    if who.patient:
        body["patient"] = who.patient
    if who.encounter:
        body["encounter"] = who.encounter
    if allow_refresh and grant_ends is not None and REFRESH_SCOPES & set(who.scopes):
        expires_at = min(store.expires_in(settings.refresh_token_lifetime), grant_ends)
        if expires_at > store.now_utc():
            body["refresh_token"] = await _store_refresh_token(db, who, expires_at, grant_ends)
    if "openid" in who.scopes:
        body["id_token"] = issue_id_token(
            key=auth.server_key,
            urls=auth.urls,
            subject=who.subject,
            client_id=who.client_id,
            fhir_user=who.fhir_user if "fhirUser" in who.scopes else None,
            nonce=nonce,
            lifetime=settings.access_token_lifetime,
            auth_time=auth_time,
        )
    return body


async def _store_refresh_token(
    db: store.Database, who: TokenSubject, expires_at: datetime, grant_ends: datetime
) -> str:
    token = secrets.token_urlsafe(32)
    document: store.RefreshDoc = {
        "_id": store.refresh_id(token),
        "kind": store.KIND_REFRESH,
        "grant_id": who.grant_id or new_token_id(),
        "client_id": who.client_id,
        "subject": who.subject,
        "scopes": list(who.scopes),
        "patient": who.patient,
        "encounter": who.encounter,
        "fhir_user": who.fhir_user,
        "role": who.role,
        "user_generation": who.user_generation,
        "client_generation": who.client_generation,
        "used": False,
        "revoked": False,
        "issued_at": store.now_utc(),
        "expires_at": expires_at,
        "grant_expires_at": grant_ends,
    }
    await db[store.TOKENS].insert_one(dict(document))
    return token


GRANT_HANDLERS: Final[dict[str, GrantHandler]] = {
    GRANT_AUTHORIZATION_CODE: _authorization_code,
    GRANT_REFRESH_TOKEN: _refresh_token,
    GRANT_CLIENT_CREDENTIALS: _client_credentials,
}
