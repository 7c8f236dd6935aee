"""Reading and verifying compact JWTs with joserfc, refusing ``alg: none`` and unlisted algorithms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key
from joserfc.jwt import JWTClaimsRegistry

# Asymmetric algorithms only: a symmetric one would let anyone holding a public key forge tokens.
ACCEPTED_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
CLOCK_LEEWAY_SECONDS: Final = 30


class InvalidJwt(Exception):
    """The token is not a well-formed, correctly signed, currently valid JWT (reason in the text)."""


@dataclass(frozen=True)
class UnverifiedJwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    compact: jws.CompactSignature

    @property
    def algorithm(self) -> str:
        return str(self.header.get("alg", ""))

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def read_unverified(token: str, accepted: frozenset[str] = ACCEPTED_ALGORITHMS) -> UnverifiedJwt:
    """Split and decode a JWS without checking its signature (to pick the key); check its algorithm."""
    if token.count(".") != 2:
        raise InvalidJwt("not a compact JWS")
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as error:
        raise InvalidJwt("malformed token") from error
    header = dict(compact.headers())
    if not isinstance(claims, dict):
        raise InvalidJwt("token payload is not a JSON object")
    if header.get("alg") not in accepted:
        raise InvalidJwt("token algorithm not accepted")
    if "crit" in header:
        raise InvalidJwt("critical header extensions are not supported")
    return UnverifiedJwt(header=header, claims=claims, compact=compact)


def verify_signature(unverified: UnverifiedJwt, key: Key) -> None:
    try:
        valid = jws.validate_compact(unverified.compact, key, algorithms=[unverified.algorithm])
    except JoseError as error:
        raise InvalidJwt("signature does not verify with the issuer's key") from error
    if not valid:
        raise InvalidJwt("bad signature")


def validate_claims(
    claims: dict[str, Any], *, issuer: str | None, audience: str | list[str] | None, require: tuple[str, ...]
) -> None:
    """Check iss/aud values, exp/nbf/iat times and the presence of ``require``d claims."""
    options: dict[str, Any] = {name: {"essential": True} for name in ("exp", *require)}
    if issuer is not None:
        options["iss"] = {"essential": True, "value": issuer}
    if audience is not None:
        options["aud"] = (
            {"essential": True, "values": audience}
            if isinstance(audience, list)
            else {"essential": True, "value": audience}
        )
    try:
        JWTClaimsRegistry(leeway=CLOCK_LEEWAY_SECONDS, **options).validate(claims)
    except JoseError as error:
        raise InvalidJwt(error.description) from error
