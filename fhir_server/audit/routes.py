"""AuditEvent's own rows of the dispatch table (REST and bundle entries alike).

* Every write (create, update, patch, delete, plain or conditional) answers 405: the log is the
  server's, and nobody, administrators included, changes it through the API.
* Search and read serve audit readers as for any type; a patient-confined caller gets the access
  log of their own record only (``AuditEvent?patient=Patient/<own id>``, ``AuditEvent/<id>``), in
  the reduced ``owner_view``.
* An AuditEvent has one version: vread of version 1 and the instance history are the event itself
  (AuditEvents are not copied into the shared history, which they would flood).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from fhir_server.audit.access import AUDIT_EVENT, AuditGate, OwnRecordGate, owner_view
from fhir_server.audit.hooks import refuse_audit_change
from fhir_server.context import Interaction
from fhir_server.errors import BadRequest, Forbidden, MethodNotAllowed, NotFound
from fhir_server.guard import not_known
from fhir_server.interactions import handlers
from fhir_server.interactions.call import Call
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.route import BodyKind, Route
from fhir_server.interactions.target import Shape
from fhir_server.store.repository import StoredResource, instant

if TYPE_CHECKING:
    from fhir_server.interactions.pipeline import Pipeline

JsonDict = dict[str, Any]
# What a patient may ask of their own access log (anything else could reach other records).
OWNER_PARAMS: Final = frozenset(
    {"patient", "date", "action", "subtype", "type", "outcome", "_sort", "_count", "_page", "_total"}
)
FORMAT_PARAMS: Final = frozenset({"_format", "_pretty"})


def _gate(pipeline: Pipeline) -> AuditGate | None:
    gate = pipeline.services.gate
    return gate if isinstance(gate, AuditGate) else None


def _own_patient(call: Call, pipeline: Pipeline) -> str | None:
    """None for an audit reader (served as any type); ``Patient/X`` for a patient reading their
    own log; 403 for anyone else."""
    gate = _gate(pipeline)
    if gate is None or gate.reads_audit(call.ctx):
        return None
    patient = gate.own_patient(call.ctx)
    if patient is None:
        raise Forbidden("the audit log is open to administrators and privacy officers only")
    return patient


def _owner_params(call: Call, patient: str, base_url: str) -> list[tuple[str, str]]:
    params = []
    for name, value in call.params:
        base = name.split(":", 1)[0]
        if base in FORMAT_PARAMS:
            continue
        if base not in OWNER_PARAMS:
            raise BadRequest(
                f"'{name}' is not available on your own access log; use {', '.join(sorted(OWNER_PARAMS))}",
                (name,),
            )
        if base == "patient":
            asked = value.removeprefix(base_url + "/")
            if name != "patient" or asked not in (patient, patient.removeprefix("Patient/")):
                raise Forbidden("you may read the access log of your own record only")
            continue
        params.append((name, value))
    return [*params, ("patient", patient)]


async def search(call: Call, pipeline: Pipeline) -> Outcome:
    patient = _own_patient(call, pipeline)
    if patient is None:
        return await handlers.search(call, pipeline)
    services = pipeline.services
    bundle = await services.search.search(
        ctx=call.ctx,
        gate=OwnRecordGate(patient, services.repository.indexer),
        resource_type=AUDIT_EVENT,
        params=_owner_params(call, patient, call.ctx.base_url),
        session=call.session,
    )
    for entry in bundle.get("entry", []):
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == AUDIT_EVENT:
            entry["resource"] = owner_view(resource, patient)
    return Outcome.ok(bundle)


async def _event(call: Call, pipeline: Pipeline) -> tuple[StoredResource, JsonDict]:
    """The event the call names, as this caller may see it (404 for what it may not)."""
    assert call.resource_id is not None
    patient = _own_patient(call, pipeline)
    services = pipeline.services
    stored = await services.repository.current(
        resource_type=AUDIT_EVENT, resource_id=call.resource_id, session=call.session
    )
    if stored is None or stored.resource is None:
        raise not_known(AUDIT_EVENT, call.resource_id)
    if patient is None:
        services.guard.visible(call.ctx, stored)
        return stored, stored.resource
    if patient not in services.repository.indexer.compartments(stored.resource):
        raise not_known(AUDIT_EVENT, call.resource_id)
    return stored, owner_view(stored.resource, patient)


async def read(call: Call, pipeline: Pipeline) -> Outcome:
    if _own_patient(call, pipeline) is None:
        return await handlers.read(call, pipeline)
    stored, shown = await _event(call, pipeline)
    return Outcome.read(stored, shown)


async def vread(call: Call, pipeline: Pipeline) -> Outcome:
    stored, shown = await _event(call, pipeline)
    if call.target.version != str(stored.version):
        raise NotFound(f"AuditEvent/{stored.id} has no version {call.target.version}")
    return Outcome.read(stored, shown)


async def instance_history(call: Call, pipeline: Pipeline) -> Outcome:
    stored, shown = await _event(call, pipeline)
    base = call.ctx.base_url
    return Outcome.ok(
        {
            "resourceType": "Bundle",
            "type": "history",
            "total": 1,
            "link": [{"relation": "self", "url": f"{base}/{call.target.path()}"}],
            "entry": [
                {
                    "fullUrl": f"{base}/AuditEvent/{stored.id}",
                    "resource": shown,
                    "request": {"method": "POST", "url": "AuditEvent"},
                    "response": {
                        "status": "201",
                        "etag": stored.etag,
                        "lastModified": instant(stored.last_updated),
                    },
                }
            ],
        }
    )


async def type_history(call: Call, pipeline: Pipeline) -> Outcome:
    raise MethodNotAllowed(
        "AuditEvents have one version each: search them by date (AuditEvent?date=ge...&_sort=-date)",
        headers={"Allow": "GET"},
    )


async def refuse_write(call: Call, pipeline: Pipeline) -> Outcome:
    refuse_audit_change(AUDIT_EVENT, existing=True)
    raise AssertionError("unreachable")  # pragma: no cover


def _row(
    method: str, shape: Shape, interaction: Interaction, handler: Any, body: BodyKind = BodyKind.NONE
) -> Route:
    return Route(method, shape, interaction, handler, body, resource_type=AUDIT_EVENT)


AUDIT_ROUTES: tuple[Route, ...] = (
    _row("GET", Shape.TYPE, Interaction.SEARCH_TYPE, search),
    _row("POST", Shape.TYPE_SEARCH, Interaction.SEARCH_TYPE, search, BodyKind.FORM),
    _row("GET", Shape.INSTANCE, Interaction.READ, read),
    _row("GET", Shape.VERSION, Interaction.VREAD, vread),
    _row("GET", Shape.INSTANCE_HISTORY, Interaction.HISTORY_INSTANCE, instance_history),
    _row("GET", Shape.TYPE_HISTORY, Interaction.HISTORY_TYPE, type_history),
    # The body is never read: the answer is 405 whatever it holds.
    _row("POST", Shape.TYPE, Interaction.CREATE, refuse_write),
    _row("PUT", Shape.TYPE, Interaction.UPDATE, refuse_write),
    _row("PATCH", Shape.TYPE, Interaction.PATCH, refuse_write),
    _row("DELETE", Shape.TYPE, Interaction.DELETE, refuse_write),
    _row("PUT", Shape.INSTANCE, Interaction.UPDATE, refuse_write),
    _row("PATCH", Shape.INSTANCE, Interaction.PATCH, refuse_write),
    _row("DELETE", Shape.INSTANCE, Interaction.DELETE, refuse_write),
)
