"""FastAPI dependencies, declared once as Annotated aliases."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from fhir_server.context import Principal, RequestContext
from fhir_server.services import Services

Authenticator = Callable[[Request], Awaitable[Principal]]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # async: FastAPI would run a plain ``def`` dependency in a worker thread on every request.
    return services_of(request)


async def get_context(request: Request) -> RequestContext:
    """Authenticate the caller (401 when that fails) and describe the request."""
    authenticate: Authenticator = request.app.state.authenticate
    principal = await authenticate(request)
    request.state.client_id = principal.client_id
    prefer = request.headers.get("prefer", "")
    services = services_of(request)
    return RequestContext(
        principal=principal,
        base_url=services.settings.base_url.rstrip("/"),
        request_id=getattr(request.state, "request_id", None)
        or str(uuid.uuid4()),  # validated by the middleware
        lenient="handling=lenient" in prefer.replace(" ", ""),
    )


ServicesDep = Annotated[Services, Depends(get_services)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
