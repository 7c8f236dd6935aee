"""``$export`` (FHIR Bulk Data Access 2.0): system, ``Patient`` and ``Group/[id]`` level kick-off.

The kick-off needs ``Prefer: respond-async`` (400 otherwise), checks its parameters
(``fhir_server.bulk.kickoff``), queues a ``bulk-export`` job and answers 202 with the status URL in
``Content-Location``. The export itself runs in the background on the durable job runner; the
status and file URLs are served by ``fhir_server.api.bulk``.
"""

from __future__ import annotations

from typing import Any, Final

from fhir_server.bulk.kickoff import read_request
from fhir_server.bulk.request import KIND, ExportLevel
from fhir_server.bulk.status import status_url
from fhir_server.errors import BadRequest, Issue, NotFound, operation_outcome
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.interactions.outcome import Outcome

BULK_DATA: Final = "http://hl7.org/fhir/uv/bulkdata"
CAPABILITY: Final = f"{BULK_DATA}/CapabilityStatement/bulk-data"


def _parameter(name: str, kind: str, documentation: str, *, repeats: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "use": "in",
        "min": 0,
        "max": "*" if repeats else "1",
        "type": kind,
        "documentation": documentation,
    }


_COMMON = [
    _parameter("_outputFormat", "string", "application/fhir+ndjson (default), application/ndjson or ndjson."),
    _parameter("_since", "instant", "Only resources last updated after this instant."),
    _parameter("_type", "string", "Comma-separated resource types to export (default: all).", repeats=True),
    _parameter(
        "_elements",
        "string",
        "Comma-separated elements (`name` or `Type.name`) to keep; mandatory elements are kept and "
        "the resources are tagged SUBSETTED.",
        repeats=True,
    ),
    _parameter(
        "_typeFilter",
        "string",
        "A search `Type?params` restricting one type (several for one type are ORed); the server's "
        "own search parameters, strict unless Prefer: handling=lenient.",
        repeats=True,
    ),
    _parameter(
        "includeAssociatedData", "code", "Not supported: refused, or left out under lenient handling."
    ),
]
_PATIENT = _parameter(
    "patient", "Reference", "Patients whose data to export (default: all the level covers).", repeats=True
)


def _definition(code_id: str, title: str, description: str, *, level: ExportLevel) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "resourceType": "OperationDefinition",
        "id": code_id,
        "url": f"{BULK_DATA}/OperationDefinition/{code_id}",
        "version": "2.0.0",
        "name": title.replace(" ", ""),
        "title": title,
        "status": "active",
        "kind": "operation",
        "code": "export",
        "description": description,
        "affectsState": False,
        "system": level is ExportLevel.SYSTEM,
        "type": level is ExportLevel.PATIENT,
        "instance": level is ExportLevel.GROUP,
        "parameter": _COMMON if level is ExportLevel.SYSTEM else [*_COMMON, _PATIENT],
    }
    if level is not ExportLevel.SYSTEM:
        definition["resource"] = ["Patient" if level is ExportLevel.PATIENT else "Group"]
    return definition


SYSTEM_EXPORT = _definition(
    "export",
    "Bulk Data System Level Export",
    "Every resource the caller may read, as NDJSON files (Prefer: respond-async).",
    level=ExportLevel.SYSTEM,
)
PATIENT_EXPORT = _definition(
    "patient-export",
    "Bulk Data Patient Level Export",
    "The Patient compartments of all patients (or of `patient`), as NDJSON files.",
    level=ExportLevel.PATIENT,
)
GROUP_EXPORT = _definition(
    "group-export",
    "Bulk Data Group Level Export",
    "The Patient compartments of the Group's active members, as NDJSON files.",
    level=ExportLevel.GROUP,
)


def _level(call: OperationCall) -> ExportLevel:
    resource_type, resource_id = call.resource_type, call.resource_id
    if resource_type is None:
        return ExportLevel.SYSTEM
    if resource_type == "Patient" and resource_id is None:
        return ExportLevel.PATIENT
    if resource_type == "Group" and resource_id is not None:
        return ExportLevel.GROUP
    raise NotFound(
        f"$export is defined for the system, Patient and Group/[id], not {call.call.target.path()}"
    )


async def kick_off(call: OperationCall) -> Outcome:
    level = _level(call)
    if not call.call.prefer_async:
        raise BadRequest("$export runs asynchronously: send Prefer: respond-async", ("Prefer",))
    if call.session is not None:
        raise BadRequest("$export cannot be part of a transaction")
    request = await read_request(call, level=level)
    job = await call.services.jobs.submit(KIND, request.to_params())
    location = status_url(call.ctx.base_url, job.id)
    body = operation_outcome([Issue("informational", f"export queued; poll {location}", "information")])
    return Outcome(202, body=body, headers={"Content-Location": location})


OPERATIONS = [
    OperationSpec(
        name="export",
        definition=SYSTEM_EXPORT,
        variants=(PATIENT_EXPORT, GROUP_EXPORT),
        levels=frozenset({Level.SYSTEM, Level.TYPE, Level.INSTANCE}),
        resource_types=("Patient", "Group"),
        handler=kick_off,
        instantiates=(CAPABILITY,),
    )
]
