"""``POST [base]``: batch and transaction Bundles."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.api.body import read_json_object
from fhir_server.api.deps import ContextDep, ServicesDep
from fhir_server.api.negotiation import require_json_body
from fhir_server.api.responses import json_response, prefer_return
from fhir_server.interactions.bundle import process_bundle

router = APIRouter()


# Both spellings of the base URL: "" must be mounted with a non-empty prefix (FastAPI refuses an
# empty path under an empty prefix), e.g. app.include_router(router, prefix="/fhir").
@router.post("", summary="Batch or transaction", tags=["system"])
@router.post("/", include_in_schema=False)
async def batch_or_transaction(request: Request, services: ServicesDep, ctx: ContextDep) -> Response:
    require_json_body(request)
    body = await read_json_object(request, limit=services.settings.bundle_max_bytes)
    request.state.interaction = body.get("type") if body.get("type") in {"batch", "transaction"} else "batch"
    request.state.resource_type = None
    result = await process_bundle(services=services, ctx=ctx, bundle=body, prefer=prefer_return(request))
    return json_response(request, result)
