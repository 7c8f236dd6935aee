"""Our access tokens and id tokens: signed JWTs (RFC 9068 ``at+jwt`` for access tokens)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final

from joserfc import jwt

from fhir_server.auth.keys import ServerKey
from fhir_server.auth.urls import AuthUrls

ACCESS_TOKEN_TYPE: Final = "at+jwt"

# Claims of our access tokens beyond the registered ones.
CLAIM_SCOPE: Final = "scope"
CLAIM_CLIENT_ID: Final = "client_id"
CLAIM_PATIENT: Final = "patient"
CLAIM_ENCOUNTER: Final = "encounter"
CLAIM_FHIR_USER: Final = "fhirUser"
CLAIM_GRANT: Final = "gid"  # the grant (authorization) an access token descends from: revoked together
CLAIM_ROLE: Final = "role"  # the clinic role of the user (or backend client) the token speaks for
# Generation of the user account / client at issue: every disable, role change or password reset bumps
# it, and a token of an older generation is refused (``revocation_cache``).
CLAIM_USER_GENERATION: Final = "ugen"
CLAIM_CLIENT_GENERATION: Final = "cgen"


def new_token_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class TokenSubject:
    """Who and what a token speaks for."""

    subject: str
    client_id: str
    scopes: tuple[str, ...]
    patient: str | None = None
    encounter: str | None = None
    fhir_user: str | None = None
    grant_id: str | None = None
    role: str | None = None
    user_generation: int | None = None  # set when the subject is a user account
    client_generation: int | None = None  # set when the client is registered here
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: int


def issue_access_token(
    *, key: ServerKey, urls: AuthUrls, who: TokenSubject, lifetime: int, now: int | None = None
) -> IssuedToken:
    issued_at = int(time.time()) if now is None else now
    jti = new_token_id()
    claims: dict[str, Any] = {
        "iss": urls.issuer,
        "aud": urls.fhir_base,
        "sub": who.subject,
        CLAIM_CLIENT_ID: who.client_id,
        CLAIM_SCOPE: who.scope,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "jti": jti,
    }
    optional = {
        CLAIM_PATIENT: who.patient,
        CLAIM_ENCOUNTER: who.encounter,
        CLAIM_FHIR_USER: who.fhir_user,
        CLAIM_GRANT: who.grant_id,
        CLAIM_ROLE: who.role,
        CLAIM_USER_GENERATION: who.user_generation,
        CLAIM_CLIENT_GENERATION: who.client_generation,
    }
    claims.update({name: value for name, value in optional.items() if value is not None})
    header = {"alg": key.algorithm, "kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
    token = jwt.encode(header, claims, key.key, algorithms=[key.algorithm])
    return IssuedToken(token=token, jti=jti, expires_at=issued_at + lifetime)


def issue_id_token(
    *,
    key: ServerKey,
    urls: AuthUrls,
    subject: str,
    client_id: str,
    fhir_user: str | None,
    nonce: str | None,
    lifetime: int,
    auth_time: int | None = None,
) -> str:
    """An OpenID Connect id_token: audience is the client, ``fhirUser`` names the user's resource."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": urls.issuer,
        "aud": client_id,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime,
    }
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if nonce:
        claims["nonce"] = nonce
    if fhir_user:
        claims[CLAIM_FHIR_USER] = f"{urls.fhir_base}/{fhir_user}"
    header = {"alg": key.algorithm, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key.key, algorithms=[key.algorithm])
