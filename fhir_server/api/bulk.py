"""The bulk export's status URL and file URLs (not ``$operations``, so not pipeline routes).

``GET {base}/bulk-status/{job}`` polls, ``DELETE`` cancels and removes the files,
``GET {base}/bulk-files/{job}/{name}`` downloads one NDJSON file. Each authenticates like every
FHIR request (the same bearer token), and only the export's owner gets an answer (``bulk.status``).
"""

from __future__ import annotations

import re
from typing import Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from fhir_server.api.deps import authenticate_request
from fhir_server.bulk.status import (
    FILES_PATH,
    NDJSON,
    STATUS_PATH,
    delete_export,
    export_file,
    export_status,
)
from fhir_server.context import Principal
from fhir_server.errors import NotFound
from fhir_server.jsonio import dump_json
from fhir_server.services import Services

router = APIRouter()
_JOB_ID: Final = re.compile(r"[0-9a-f]{32}")
_FILE_NAME: Final = re.compile(r"[0-9A-Za-z-]{1,80}\.ndjson")


async def _caller(request: Request) -> tuple[Services, Principal]:
    principal = await authenticate_request(request)
    request.state.client_id = principal.client_id
    services: Services = request.app.state.services
    return services, principal


@router.get(f"/{STATUS_PATH}/{{job_id}}", include_in_schema=False)
async def poll(job_id: str, request: Request) -> Response:
    services, principal = await _caller(request)
    base_url = services.settings.base_url.rstrip("/")
    answer = await export_status(services, principal, _checked(job_id), base_url)
    if answer.body is None:
        return Response(status_code=answer.status, headers=answer.headers)
    media = "application/json" if answer.status == 200 else "application/fhir+json"
    return Response(
        dump_json(answer.body), status_code=answer.status, media_type=media, headers=answer.headers
    )


@router.delete(f"/{STATUS_PATH}/{{job_id}}", include_in_schema=False)
async def cancel(job_id: str, request: Request) -> Response:
    services, principal = await _caller(request)
    await delete_export(services, principal, _checked(job_id))
    return Response(status_code=202)


@router.get(f"/{FILES_PATH}/{{job_id}}/{{name}}", include_in_schema=False)
async def download(job_id: str, name: str, request: Request) -> Response:
    services, principal = await _caller(request)
    if not _FILE_NAME.fullmatch(name):
        raise NotFound("the export has no such file")
    found = await export_file(services, principal, _checked(job_id), name)
    if found.redirect is not None:
        return RedirectResponse(found.redirect, status_code=307)
    chunks = await services.blob_store.open(found.key)
    return StreamingResponse(chunks, media_type=NDJSON, headers={"X-Content-Type-Options": "nosniff"})


def _checked(job_id: str) -> str:
    """A job id has the shape the runner gives it; anything else names no job."""
    if not _JOB_ID.fullmatch(job_id):
        raise NotFound("there is no such export for this client")
    return job_id
