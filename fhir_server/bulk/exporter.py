"""The export job: every type of the request, file after file, each file a checkpoint.

Progress (the job's ``progress``) names the type being exported, the last id written and the files
stored so far. A file is stored first and then recorded by the checkpoint; if the checkpoint is
refused (the job was cancelled or taken over) the file is deleted again, and if the instance dies
in between, the file is simply never listed. So a resumed export starts after the last recorded
id, and no resource appears twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fhir_server.bulk.request import KIND, ExportLevel, ExportRequest
from fhir_server.bulk.writer import Part, write_outcomes, write_part
from fhir_server.context import RequestContext
from fhir_server.errors import FhirError
from fhir_server.jobs import Job, JobContext, JobKind
from fhir_server.search.export import Selection
from fhir_server.services import Services
from fhir_server.store.blobs import StoredBlob

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    next_type: int = 0  # index into the request's types
    after: str | None = None  # the last id read of that type
    files: list[dict[str, Any]] = field(default_factory=list)  # {type, name, key, count}
    errors: list[dict[str, Any]] = field(default_factory=list)  # {name, key, count}
    issues: list[str] = field(default_factory=list)  # problems met while running (lenient)
    written: int = 0

    @classmethod
    def of(cls, data: dict[str, Any]) -> Progress:
        return cls(
            next_type=int(data.get("nextType", 0)),
            after=data.get("after"),
            files=list(data.get("files") or []),
            errors=list(data.get("errors") or []),
            issues=list(data.get("issues") or []),
            written=int(data.get("written", 0)),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "nextType": self.next_type,
            "after": self.after,
            "files": self.files,
            "errors": self.errors,
            "issues": self.issues,
            "written": self.written,
        }


def selection_for(request: ExportRequest, resource_type: str) -> Selection:
    """What the request exports of one type."""
    filters = request.filters.get(resource_type, [])
    if request.level is ExportLevel.SYSTEM:
        return Selection(resource_type, filters=filters, since=request.since)
    if request.patients is None:
        return Selection(resource_type, filters=filters, compartment_type="Patient", since=request.since)
    if resource_type == "Patient":
        return Selection(resource_type, filters=filters, ids=request.patients, since=request.since)
    compartments = [f"Patient/{patient}" for patient in request.patients]
    return Selection(resource_type, filters=filters, compartments=compartments, since=request.since)


class Export:
    def __init__(self, services: Services, job: JobContext) -> None:
        self.services = services
        self.job = job
        self.request = ExportRequest.from_params(job.job.params)
        self.progress = Progress.of(job.job.progress)
        self.ctx = RequestContext(
            principal=self.request.requester.principal(),
            base_url=services.settings.base_url.rstrip("/"),
            request_id=f"job-{job.job.id}",
            lenient=self.request.lenient,
        )
        self.per_file = services.settings.bulk_export_file_resources

    async def run(self) -> dict[str, Any]:
        types = self.request.types
        while self.progress.next_type < len(types):
            resource_type = types[self.progress.next_type]
            try:
                await self._export_type(resource_type)
            except FhirError as error:  # e.g. a _typeFilter chain over its bound
                if not self.request.lenient:
                    raise
                self.progress.issues.append(f"{resource_type}: {error.diagnostics} (left out)")
            self.progress.next_type += 1
            self.progress.after = None
            await self.job.checkpoint(self.progress.as_json())
        issues = [*self.request.issues, *self.progress.issues]
        if issues and not self.progress.errors:
            blob = await write_outcomes(self.services, issues)
            self.progress.errors.append({"name": "errors-1.ndjson", "key": blob.key, "count": len(issues)})
            await self._record(blob)
        return {"files": self.progress.files, "errors": self.progress.errors}

    async def _export_type(self, resource_type: str) -> None:
        selection = selection_for(self.request, resource_type)
        elements = self.request.elements_for(resource_type)
        while True:
            part = await write_part(
                self.services,
                ctx=self.ctx,
                selection=selection,
                elements=elements,
                after=self.progress.after,
                limit=self.per_file,
            )
            if part.read == 0:
                return
            self._add(resource_type, part)
            await self._record(part.blob)
            if part.read < self.per_file:
                return

    def _add(self, resource_type: str, part: Part) -> None:
        self.progress.after = part.last_id
        if part.blob is None:
            return
        self.progress.written += part.written
        name = f"{len(self.progress.files) + 1}-{resource_type}.ndjson"
        self.progress.files.append(
            {"type": resource_type, "name": name, "key": part.blob.key, "count": part.written}
        )

    async def _record(self, blob: StoredBlob | None) -> None:
        """Checkpoint; a file the checkpoint could not record is deleted again."""
        try:
            await self.job.checkpoint(self.progress.as_json())
        except BaseException:
            if blob is not None:
                await asyncio.shield(self.services.blob_store.delete(blob.key))
            raise


def file_keys(job: Job) -> list[str]:
    progress = Progress.of(job.progress)
    return [entry["key"] for entry in [*progress.files, *progress.errors]]


def export_job_kind(services: Services) -> JobKind:
    """The bulk-export kind of job, on these services."""

    async def run(job: JobContext) -> dict[str, Any]:
        return await Export(services, job).run()

    async def discard(job: Job) -> None:
        for key in file_keys(job):
            await services.blob_store.delete(key)

    return JobKind(KIND, run=run, discard=discard)


def install_bulk_export(services: Services) -> None:
    services.jobs.register(export_job_kind(services))
