"""Bearer token verification: our own tokens and those of configured external issuers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.auth import store
from fhir_server.auth.external import ExternalIssuer, scopes_from_claim
from fhir_server.auth.jwks import KeyNotFound, RemoteKeySets
from fhir_server.auth.jwtcheck import InvalidJwt, read_unverified, validate_claims, verify_signature
from fhir_server.auth.keys import ServerKey
from fhir_server.auth.revocation_cache import RevocationCache, load_snapshot
from fhir_server.auth.tokens import (
    ACCESS_TOKEN_TYPE,
    CLAIM_CLIENT_ID,
    CLAIM_ENCOUNTER,
    CLAIM_FHIR_USER,
    CLAIM_PATIENT,
    CLAIM_ROLE,
    CLAIM_SCOPE,
    CLAIM_USER_GENERATION,
)
from fhir_server.auth.urls import AuthUrls
from fhir_server.context import Principal


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    claims: dict[str, Any]
    local: bool  # issued by this server


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _reference_path(value: str | None, base: str) -> str | None:
    """``fhirUser`` may be absolute (``https://host/fhir/Practitioner/1``): keep ``Practitioner/1``."""
    if value is None:
        return None
    return value.removeprefix(base.rstrip("/") + "/")


class TokenVerifier:
    def __init__(
        self,
        *,
        urls: AuthUrls,
        server_key: ServerKey,
        external: dict[str, ExternalIssuer],
        remote_keys: RemoteKeySets,
    ) -> None:
        self.urls = urls
        self.server_key = server_key
        self.external = external
        self.remote_keys = remote_keys
        self.revocations: RevocationCache | None = None  # set once the database is known

    async def verify(self, token: str, db: store.Database | None, *, fresh: bool = False) -> VerifiedToken:
        """Verify signature, issuer, audience, lifetime (and, for ours, revocation); raise ``InvalidJwt``.

        Revocation is checked against the process's ``revocations`` snapshot (at most
        ``revocation_check_seconds`` old), or against the database itself when ``fresh`` or when
        there is no snapshot. Without ``db`` it is skipped (used only to read a token being revoked).
        """
        unverified = read_unverified(token)
        issuer = unverified.claims.get("iss")
        if self.urls.names_us(issuer):
            return await self._verify_local(unverified, db, fresh)
        if isinstance(issuer, str) and issuer in self.external:
            return await self._verify_external(unverified, self.external[issuer])
        raise InvalidJwt("unknown token issuer")

    async def _verify_local(self, unverified: Any, db: store.Database | None, fresh: bool) -> VerifiedToken:
        if unverified.algorithm != self.server_key.algorithm or unverified.kid != self.server_key.kid:
            raise InvalidJwt("token not signed with this server's key")
        if unverified.header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidJwt("not an access token")
        verify_signature(unverified, self.server_key.key)
        claims: dict[str, Any] = unverified.claims
        validate_claims(
            claims,
            issuer=claims["iss"],
            audience=[self.urls.fhir_base, *self.urls.aliases],
            require=("sub", "jti", "iat"),
        )
        if db is not None:
            reason = await self._reason_refused(db, claims, fresh)
            if reason is not None:
                raise InvalidJwt(reason)
        principal = Principal(
            subject=_text(claims.get("sub")),
            client_id=_text(claims.get(CLAIM_CLIENT_ID)),
            scopes=frozenset(scopes_from_claim(claims.get(CLAIM_SCOPE))),
            patient=_text(claims.get(CLAIM_PATIENT)),
            fhir_user=_text(claims.get(CLAIM_FHIR_USER)),
            encounter=_text(claims.get(CLAIM_ENCOUNTER)),
            role=_text(claims.get(CLAIM_ROLE)),
        )
        return VerifiedToken(principal=principal, claims=claims, local=True)

    async def _reason_refused(self, db: store.Database, claims: dict[str, Any], fresh: bool) -> str | None:
        if self.revocations is not None and not fresh:
            return await self.revocations.reason_refused(claims)
        snapshot = await load_snapshot(db, claims)
        if CLAIM_USER_GENERATION in claims and str(claims.get("sub")) not in snapshot.users:
            return "token revoked: the account no longer exists"
        return snapshot.reason_refused(claims)

    async def _verify_external(self, unverified: Any, issuer: ExternalIssuer) -> VerifiedToken:
        try:
            key = await self.remote_keys.key_for(issuer.jwks_uri, unverified.kid, unverified.algorithm)
        except KeyNotFound as error:
            raise InvalidJwt("no issuer key for this token") from error
        verify_signature(unverified, key)
        claims: dict[str, Any] = unverified.claims
        validate_claims(claims, issuer=issuer.issuer, audience=issuer.audience, require=("sub",))
        principal = Principal(
            subject=_text(claims.get("sub")),
            client_id=_text(claims.get(issuer.client_id_claim)) or _text(claims.get("azp")),
            scopes=frozenset(scopes_from_claim(claims.get(issuer.scope_claim))),
            patient=_text(claims.get(issuer.patient_claim)),
            fhir_user=_reference_path(_text(claims.get(issuer.fhir_user_claim)), self.urls.fhir_base),
        )
        return VerifiedToken(principal=principal, claims=claims, local=False)
