"""The export's status URL and files, transport-neutral: what to answer, never how (``api.bulk``).

Only the caller that kicked the export off (same client, user and patient context) may poll it,
download its files or delete it; to anyone else the job does not exist (404), like any resource it
may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from email.utils import format_datetime
from typing import Any, Final

from fhir_server.bulk.exporter import Progress
from fhir_server.bulk.request import KIND, ExportRequest
from fhir_server.context import Principal
from fhir_server.errors import Issue, NotFound, operation_outcome
from fhir_server.jobs import Job, JobState
from fhir_server.services import Services

STATUS_PATH: Final = "bulk-status"  # {base}/bulk-status/{job id}
FILES_PATH: Final = "bulk-files"  # {base}/bulk-files/{job id}/{file name}
RETRY_AFTER_SECONDS: Final = 2
NDJSON: Final = "application/fhir+ndjson"
PRESIGNED_SECONDS: Final = 300


def status_url(base_url: str, job_id: str) -> str:
    return f"{base_url}/{STATUS_PATH}/{job_id}"


def file_url(base_url: str, job_id: str, name: str) -> str:
    return f"{base_url}/{FILES_PATH}/{job_id}/{name}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Download:
    """A file to stream (``key``), or a presigned URL to redirect to."""

    key: str
    redirect: str | None = None


def _unknown(job_id: str) -> NotFound:
    return NotFound(f"there is no export {job_id} for this client")


async def _own_job(services: Services, principal: Principal, job_id: str) -> Job:
    job = await services.jobs.status(job_id)
    if job is None or job.kind != KIND or job.state in (JobState.CANCELLED, JobState.DISCARDING):
        raise _unknown(job_id)
    if not ExportRequest.from_params(job.params).requester.is_same_caller(principal):
        raise _unknown(job_id)
    return job


async def export_status(services: Services, principal: Principal, job_id: str, base_url: str) -> Answer:
    """202 with ``X-Progress`` while it runs, the manifest (200) once complete, 500 if it failed."""
    job = await _own_job(services, principal, job_id)
    if job.state.active:
        return Answer(
            202, headers={"Retry-After": str(RETRY_AFTER_SECONDS), "X-Progress": _progress_text(job)}
        )
    if job.state is JobState.FAILED:
        outcome = operation_outcome([Issue("exception", f"the export failed: {job.error}")])
        return Answer(500, outcome)
    # astimezone: pymongo's aware datetimes carry bson's own UTC, which usegmt refuses.
    headers = {"Expires": format_datetime(job.expires.astimezone(UTC), usegmt=True)} if job.expires else {}
    return Answer(200, manifest(job, base_url), headers)


def _progress_text(job: Job) -> str:
    if job.state is JobState.QUEUED:
        return "queued"
    request = ExportRequest.from_params(job.params)
    progress = Progress.of(job.progress)
    done = min(progress.next_type, len(request.types))
    return (
        f"exporting: {done} of {len(request.types)} types done, {len(progress.files)} files, "
        f"{progress.written} resources"
    )


def manifest(job: Job, base_url: str) -> dict[str, Any]:
    request = ExportRequest.from_params(job.params)
    progress = Progress.of(job.progress)
    return {
        "transactionTime": request.transaction_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request": request.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": entry["type"], "url": file_url(base_url, job.id, entry["name"]), "count": entry["count"]}
            for entry in progress.files
        ],
        "error": [
            {
                "type": "OperationOutcome",
                "url": file_url(base_url, job.id, entry["name"]),
                "count": entry["count"],
            }
            for entry in progress.errors
        ],
    }


async def delete_export(services: Services, principal: Principal, job_id: str) -> None:
    """Cancel the export wherever it runs and remove its files (404 when unknown)."""
    await _own_job(services, principal, job_id)
    await services.jobs.cancel(job_id)
    await services.jobs.purge(job_id)


async def export_file(services: Services, principal: Principal, job_id: str, name: str) -> Download:
    """The stored file of a completed export, by its name in the manifest."""
    job = await _own_job(services, principal, job_id)
    if job.state is not JobState.COMPLETED:
        raise NotFound(f"export {job_id} has no file {name} (yet)")
    progress = Progress.of(job.progress)
    for entry in [*progress.files, *progress.errors]:
        if entry["name"] == name:
            redirect = None
            if services.settings.bulk_export_presigned_downloads:
                redirect = services.blob_store.presigned_url(
                    entry["key"], content_type=NDJSON, expires=PRESIGNED_SECONDS
                )
            return Download(entry["key"], redirect)
    raise NotFound(f"export {job_id} has no file {name}")
