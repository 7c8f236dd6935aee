"""Who is calling: the bearer token of a /fhir request, verified into a ``Principal``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from fhir_server.auth.jwtcheck import InvalidJwt
from fhir_server.auth.state import AuthState
from fhir_server.context import Principal
from fhir_server.errors import Unauthorized
from fhir_server.settings import Settings

logger = logging.getLogger(__name__)

REALM = 'Bearer realm="fhir"'


def _challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = REALM
    if error:
        value += f', error="{error}"'
    if description:
        value += ', error_description="{}"'.format(description.replace('"', "'").replace("\\", "/"))
    return {"WWW-Authenticate": value}


def bearer_token(request: Request) -> str:
    """The bearer token of the request; raise ``Unauthorized`` when there is none."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("authentication required: send an OAuth2 bearer token", headers=_challenge())
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized(
            "malformed Authorization header: expected 'Bearer <token>'",
            headers=_challenge("invalid_token", "malformed Authorization header"),
        )
    return token


async def verify_bearer(request: Request, auth: AuthState) -> Principal:
    token = bearer_token(request)
    db: Any = getattr(request.app.state, "db", None)
    try:
        verified = await auth.verifier.verify(token, db)
    except InvalidJwt as error:
        # The reason is ours (no token content): safe to log and to return.
        logger.info("bearer token refused: %s", error)
        raise Unauthorized(
            f"invalid access token: {error}", headers=_challenge("invalid_token", str(error))
        ) from error
    return verified.principal


class Authenticator:
    """``await authenticator(request)``: the caller of a protected /fhir route, for ``app.state``."""

    def __init__(self, auth: AuthState, settings: Settings) -> None:
        self.auth = auth
        self.settings = settings

    async def __call__(self, request: Request) -> Principal:
        if not self.settings.auth_enabled:
            return Principal.system()
        return await verify_bearer(request, self.auth)


async def authenticate(request: Request) -> Principal:
    """The caller of a protected /fhir route (``Principal.system()`` when auth is disabled).

    Raises ``fhir_server.errors.Unauthorized`` (401) with a ``WWW-Authenticate: Bearer`` header for a
    missing, malformed, expired, wrong-audience, wrong-issuer, ``alg: none`` or tampered token.
    """
    settings = request.app.state.settings
    if not settings.auth_enabled:
        return Principal.system()
    auth: AuthState = request.app.state.auth
    return await verify_bearer(request, auth)
