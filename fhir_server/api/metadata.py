"""``GET /fhir/metadata``: the CapabilityStatement, public (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.responses import json_response
from fhir_server.capabilities import ServerCapabilities

router = APIRouter()


@router.get("/metadata", summary="CapabilityStatement", tags=["system"])
async def capability_statement(request: Request) -> Response:
    request.state.interaction = "capabilities"
    capabilities: ServerCapabilities = request.app.state.capabilities
    return json_response(request, capabilities.statement())
