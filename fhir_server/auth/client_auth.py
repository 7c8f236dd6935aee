"""Client authentication at the token, introspection and revocation endpoints.

Methods: ``none`` (public clients name themselves), ``client_secret_basic``/``client_secret_post``
(confidential-symmetric) and ``private_key_jwt`` (confidential-asymmetric and backend services,
RFC 7523 assertions signed RS384/ES384 ..., checked against the client's registered JWKS or JWKS URL,
each ``jti`` accepted once).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from pymongo.errors import DuplicateKeyError

from fhir_server.auth import store
from fhir_server.auth.clients import KEY_KINDS, ClientKind, client_kind, get_client
from fhir_server.auth.jwks import KeyNotFound, RemoteKeySets, import_jwks, select_key
from fhir_server.auth.jwtcheck import (
    CLOCK_LEEWAY_SECONDS,
    InvalidJwt,
    read_unverified,
    validate_claims,
    verify_signature,
)

JWT_BEARER_ASSERTION: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS: Final = frozenset({"RS384", "ES384", "RS256", "ES256", "RS512", "ES512"})
MAX_ASSERTION_LIFETIME: Final = 300  # SMART: exp no more than five minutes in the future

METHOD_NONE: Final = "none"
METHOD_SECRET_BASIC: Final = "client_secret_basic"
METHOD_SECRET_POST: Final = "client_secret_post"
METHOD_PRIVATE_KEY_JWT: Final = "private_key_jwt"
AUTH_METHODS_SUPPORTED: Final = (METHOD_SECRET_BASIC, METHOD_SECRET_POST, METHOD_PRIVATE_KEY_JWT)


@dataclass(frozen=True)
class AuthenticatedClient:
    client: store.ClientDoc
    method: str

    @property
    def client_id(self) -> str:
        return self.client["_id"]

    @property
    def kind(self) -> ClientKind:
        return client_kind(self.client)

    @property
    def generation(self) -> int:
        return int(self.client.get(store.GENERATION, 0))

    @property
    def confidential(self) -> bool:
        return self.method != METHOD_NONE


def _invalid_client(description: str, *, basic: bool = False) -> Exception:
    error: Exception = InvalidClientError(description=description, status_code=401 if basic else 400)
    return error


async def authenticate_client(
    *,
    db: store.Database,
    form: Mapping[str, str],
    headers: Mapping[str, str],
    token_endpoint: str,
    remote_keys: RemoteKeySets,
) -> AuthenticatedClient:
    """Identify and authenticate the calling client; raise authlib's ``InvalidClientError``."""
    basic_id, basic_secret = extract_basic_authorization(headers)
    assertion_type = form.get("client_assertion_type")
    used = [bool(basic_id), "client_secret" in form, assertion_type is not None]
    if sum(used) > 1:
        raise InvalidRequestError(description="use exactly one client authentication method")
    if basic_id:
        return await _by_secret(db, basic_id, basic_secret or "", METHOD_SECRET_BASIC, form)
    if "client_secret" in form:
        return await _by_secret(
            db, form.get("client_id", ""), form["client_secret"], METHOD_SECRET_POST, form
        )
    if assertion_type is not None:
        if assertion_type != JWT_BEARER_ASSERTION or not form.get("client_assertion"):
            raise InvalidRequestError(description="unsupported client_assertion_type")
        return await _by_assertion(db, form, token_endpoint, remote_keys)
    return await _public(db, form.get("client_id", ""))


async def _public(db: store.Database, client_id: str) -> AuthenticatedClient:
    client = await get_client(db=db, client_id=client_id) if client_id else None
    if client is None or client_kind(client) is not ClientKind.PUBLIC:
        raise _invalid_client("client authentication failed")
    return AuthenticatedClient(client, METHOD_NONE)


async def _by_secret(
    db: store.Database, client_id: str, secret: str, method: str, form: Mapping[str, str]
) -> AuthenticatedClient:
    basic = method == METHOD_SECRET_BASIC
    if basic and form.get("client_id") not in (None, client_id):
        raise InvalidRequestError(description="client_id does not match the credentials")
    client = await get_client(db=db, client_id=client_id) if client_id else None
    expected = client.get("secret_hash") if client else None
    if not expected or not hmac.compare_digest(expected, store.secret_hash(secret)):
        raise _invalid_client("client authentication failed", basic=basic)
    assert client is not None
    return AuthenticatedClient(client, method)


async def _by_assertion(
    db: store.Database, form: Mapping[str, str], token_endpoint: str, remote_keys: RemoteKeySets
) -> AuthenticatedClient:
    try:
        unverified = read_unverified(form["client_assertion"], ASSERTION_ALGORITHMS)
    except InvalidJwt as error:
        raise _invalid_client(f"client assertion rejected: {error}") from error
    claims: dict[str, Any] = unverified.claims
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or claims.get("sub") != client_id:
        raise _invalid_client("client assertion iss and sub must both be the client id")
    if form.get("client_id") not in (None, client_id):
        raise _invalid_client("client_id does not match the client assertion")
    client = await get_client(db=db, client_id=client_id)
    if client is None or client_kind(client) not in KEY_KINDS:
        raise _invalid_client("client authentication failed")
    try:
        key = await _client_key(client, unverified.kid, unverified.algorithm, remote_keys)
        verify_signature(unverified, key)
        validate_claims(claims, issuer=client_id, audience=token_endpoint, require=("jti", "sub"))
    except (InvalidJwt, KeyNotFound) as error:
        raise _invalid_client(f"client assertion rejected: {error}") from error
    _check_lifetime(claims)
    await _remember_jti(db, client_id, claims)
    return AuthenticatedClient(client, METHOD_PRIVATE_KEY_JWT)


async def _client_key(
    client: store.ClientDoc, kid: str | None, algorithm: str, remote_keys: RemoteKeySets
) -> Any:
    jwks_uri = client.get("jwks_uri")
    if jwks_uri:
        return await remote_keys.key_for(jwks_uri, kid, algorithm)
    try:
        keys = import_jwks(client.get("jwks"))
    except ValueError as error:
        raise KeyNotFound("the client's registered JWKS is unusable") from error
    key = select_key(keys, kid, algorithm)
    if key is None:
        raise KeyNotFound("no registered key with that key id")
    return key


def _check_lifetime(claims: dict[str, Any]) -> None:
    expires = claims["exp"]
    if expires > time.time() + MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY_SECONDS:
        raise _invalid_client("client assertion exp is more than five minutes ahead")


async def _remember_jti(db: store.Database, client_id: str, claims: dict[str, Any]) -> None:
    """Accept each assertion id once while it could still be valid."""
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise _invalid_client("client assertion jti must be a string")
    document = {
        "_id": f"{client_id}:{jti}",
        store.EXPIRES_AT: store.expires_in(int(claims["exp"] - time.time()) + CLOCK_LEEWAY_SECONDS + 1),
    }
    try:
        await db[store.JTI].insert_one(document)
    except DuplicateKeyError as error:
        raise _invalid_client("client assertion jti was already used") from error
