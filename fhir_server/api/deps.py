"""Who is calling: the authenticator the app's lifespan installs, asked once per request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from fhir_server.context import Principal

Authenticator = Callable[[Request], Awaitable[Principal]]


async def authenticate_request(request: Request) -> Principal:
    """The caller (401 when authentication fails; ``Principal.system()`` when auth is off)."""
    authenticate: Authenticator = request.app.state.authenticate
    return await authenticate(request)
