"""Token introspection (RFC 7662), revocation (RFC 7009) and grant-wide revocation.

Access tokens are JWTs; revoking one records its ``jti`` (until it would have expired anyway), and
revoking a grant records its id, which every access token of that grant carries (``gid``). The
bearer check looks both up in one indexed query.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError, UnauthorizedClientError

from fhir_server.auth import store
from fhir_server.auth.client_auth import AuthenticatedClient, authenticate_client
from fhir_server.auth.jwtcheck import InvalidJwt
from fhir_server.auth.revocation_cache import RevocationCache
from fhir_server.auth.standing import current_client_generation, current_user_generation
from fhir_server.auth.state import AuthState
from fhir_server.auth.tokens import CLAIM_CLIENT_ID
from fhir_server.settings import Settings

# Claims copied from a verified access token into an introspection answer.
INTROSPECTED_CLAIMS = (
    "scope",
    "client_id",
    "sub",
    "exp",
    "iat",
    "iss",
    "aud",
    "patient",
    "encounter",
    "fhirUser",
)


async def revoke_grant(
    *, db: store.Database, grant_id: str, settings: Settings, cache: RevocationCache | None = None
) -> None:
    """Revoke every token descending from one authorization (refresh tokens and access tokens)."""
    tokens = db[store.TOKENS]
    lifetime = max(settings.refresh_token_lifetime, settings.access_token_lifetime)
    await tokens.update_one(
        {"_id": store.revoked_grant_id(grant_id)},
        {"$set": {"kind": store.KIND_REVOKED_GRANT, store.EXPIRES_AT: store.expires_in(lifetime)}},
        upsert=True,
    )
    await tokens.update_many({"grant_id": grant_id, "kind": store.KIND_REFRESH}, {"$set": {"revoked": True}})
    if cache is not None:
        cache.invalidate()


async def _authenticated(
    auth: AuthState, db: store.Database, form: Mapping[str, str], headers: Mapping[str, str]
) -> AuthenticatedClient:
    client: AuthenticatedClient = await authenticate_client(
        db=db, form=form, headers=headers, token_endpoint=auth.urls.token, remote_keys=auth.remote_keys
    )
    return client


async def introspect(
    *, auth: AuthState, db: store.Database, form: Mapping[str, str], headers: Mapping[str, str]
) -> dict[str, Any]:
    """RFC 7662 answer for ``form['token']``; only confidential clients may ask."""
    caller = await _authenticated(auth, db, form, headers)
    if not caller.confidential:
        error: Exception = InvalidClientError(description="introspection needs a confidential client")
        raise error
    token = form.get("token", "")
    refresh = await _live_refresh(db, token)
    if refresh is not None and await _refresh_in_standing(db, refresh):
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": " ".join(refresh["scopes"]),
            "client_id": refresh["client_id"],
            "sub": refresh["subject"],
            "exp": int(store.as_utc(refresh[store.EXPIRES_AT]).timestamp()),
        }
    try:
        verified = await auth.verifier.verify(token, db, fresh=True)
    except InvalidJwt:
        return {"active": False}
    answer = {name: verified.claims[name] for name in INTROSPECTED_CLAIMS if name in verified.claims}
    return {"active": True, "token_type": "Bearer", **answer}


async def _live_refresh(db: store.Database, token: str) -> dict[str, Any] | None:
    if not token or token.count(".") == 2:
        return None
    document = await db[store.TOKENS].find_one({"_id": store.refresh_id(token), "kind": store.KIND_REFRESH})
    if document is None or document.get("used") or document.get("revoked") or store.is_expired(document):
        return None
    return document


async def revoke(
    *, auth: AuthState, db: store.Database, form: Mapping[str, str], headers: Mapping[str, str]
) -> None:
    """RFC 7009: revoke a refresh token (and its grant) or an access token of the calling client.

    Unknown or already invalid tokens are silently accepted, as the RFC asks."""
    caller = await _authenticated(auth, db, form, headers)
    token = form.get("token", "")
    refresh = await db[store.TOKENS].find_one({"_id": store.refresh_id(token), "kind": store.KIND_REFRESH})
    if refresh is not None:
        _check_owner(caller, refresh["client_id"])
        await revoke_grant(db=db, grant_id=refresh["grant_id"], settings=auth.settings, cache=auth.cache)
        return
    try:
        verified = await auth.verifier.verify(token, None)
    except InvalidJwt:
        return
    if not verified.local:
        return  # another issuer's token: not ours to revoke
    claims = verified.claims
    _check_owner(caller, claims.get(CLAIM_CLIENT_ID))
    expires_in = max(int(claims["exp"] - time.time()), 0) + 60
    await db[store.TOKENS].update_one(
        {"_id": store.revoked_access_id(str(claims["jti"]))},
        {"$set": {"kind": store.KIND_REVOKED_ACCESS, store.EXPIRES_AT: store.expires_in(expires_in)}},
        upsert=True,
    )
    if auth.cache is not None:
        auth.cache.invalidate()


async def _refresh_in_standing(db: store.Database, refresh: dict[str, Any]) -> bool:
    generation = refresh.get("user_generation")
    if generation is not None and await current_user_generation(db, refresh["subject"]) != generation:
        return False
    client_generation = await current_client_generation(db, refresh["client_id"])
    return client_generation == (refresh.get("client_generation") or 0)


def _check_owner(caller: AuthenticatedClient, owner: Any) -> None:
    if owner != caller.client_id:
        error: Exception = UnauthorizedClientError(description="the token was issued to another client")
        raise error
