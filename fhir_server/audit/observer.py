"""The pipeline observer: every dispatched call, from REST or a bundle entry, leaves its facts for
the audit writer.

A write that changed something is recorded by the repository hook, inside its transaction
(``fhir_server.audit.hooks``), which marks the call's context; the observer then has nothing to
add. Everything else is recorded here: reads, searches, history, operations, bundles, writes that
changed nothing (a no-op update, a conditional create that matched) and every refused or failed
call (401, 403, 404, 409, 412, 422 ...), with the error's status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from fhir_server.audit import vocabulary as v
from fhir_server.audit.events import Caller, Touched, What, per_patient, query_entity, version_reference
from fhir_server.audit.writer import AuditWriter, BuildContext, subsetted
from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import FhirError
from fhir_server.interactions.call import Call
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.route import Route
from fhir_server.interactions.target import Shape, Target
from fhir_server.store.repository import now

JsonDict = dict[str, Any]
WRITES: Final = frozenset({Interaction.CREATE, Interaction.UPDATE, Interaction.PATCH, Interaction.DELETE})
NOT_AUDITED: Final = frozenset({Interaction.CAPABILITIES})  # public, no data
NOT_DATA: Final = frozenset({"Bundle", "OperationOutcome", "Parameters", "CapabilityStatement"})
_WRITTEN_KEY: Final = "fhir_server.audit.written"  # RequestContext.scratch: writes the hook recorded
_QUERY_SHAPED: Final = frozenset({Interaction.SEARCH_TYPE, Interaction.SEARCH_SYSTEM, Interaction.OPERATION})
_FORMAT_PARAMS: Final = frozenset({"_format", "_pretty"})
_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_BUNDLES: Final = frozenset({Interaction.BATCH, Interaction.TRANSACTION})


def mark_written(ctx: RequestContext, reference: str) -> None:
    """The hook recorded a write of this call (the observer must not record it again)."""
    ctx.scratch.setdefault(_WRITTEN_KEY, []).append(reference)


def take_written(ctx: RequestContext) -> list[str]:
    """The writes recorded since the last call ended (calls of one context run one at a time)."""
    written: list[str] = ctx.scratch.pop(_WRITTEN_KEY, [])
    return written


def returned_resources(body: Any) -> list[JsonDict]:
    """The resources an answer carries: itself, a Bundle's entries, a Parameters' resources."""
    if not isinstance(body, dict):
        return []
    kind = body.get("resourceType")
    if kind == "Bundle":
        found = [entry.get("resource") for entry in body.get("entry", []) if isinstance(entry, dict)]
        return [r for r in found if isinstance(r, dict) and r.get("resourceType") not in NOT_DATA]
    if kind == "Parameters":
        found = [p.get("resource") for p in body.get("parameter", []) if isinstance(p, dict)]
        return [r for r in found if isinstance(r, dict) and r.get("resourceType") not in NOT_DATA]
    if isinstance(kind, str) and kind not in NOT_DATA:
        return [body]
    return []


def query_text(method: str, target: Target, params: list[tuple[str, str]]) -> str:
    shown = [(name, value) for name, value in params if name not in _FORMAT_PARAMS]
    path = target.path()
    return f"{method} {path}?{urlencode(shown)}" if shown else f"{method} {path}"


def named_patients(target: Target, params: list[tuple[str, str]]) -> list[str]:
    """Patients a request names (BALP's patient query): a Patient compartment, ``Patient/x`` in
    a parameter value, ``patient=x``, ``Patient?_id=x``."""
    found: list[str] = []
    if target.shape is Shape.COMPARTMENT and target.resource_type == "Patient" and target.resource_id:
        found.append(f"Patient/{target.resource_id}")
    for name, value in params:
        base = name.split(":", 1)[0].split(".", 1)[0]
        for item in value.split(","):
            reference = item.rsplit("/_history/", 1)[0]
            tail = reference.rsplit("Patient/", 1)
            if len(tail) == 2 and _ID.fullmatch(tail[1]):
                found.append(f"Patient/{tail[1]}")
            elif _ID.fullmatch(item) and (
                base == "patient" or (base == "_id" and target.resource_type == "Patient")
            ):
                found.append(f"Patient/{item}")
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Observed:
    """One call as the audit trail keeps it until the writer turns it into AuditEvents."""

    recorded: datetime
    caller: Caller
    interaction: Interaction
    method: str
    target: Target
    params: list[tuple[str, str]]
    status: int
    error_code: str | None = None
    returned: list[JsonDict] = field(default_factory=list)

    def subsetted(self) -> Iterable[tuple[str, str]]:
        for resource in self.returned:
            if subsetted(resource):
                yield str(resource.get("resourceType")), str(resource.get("id"))

    def what(self) -> What:
        subtypes = [v.interaction_subtype(self.interaction.value)]
        if self.target.operation:
            subtypes.append({"system": v.SERVER_CODES, "code": f"${self.target.operation}"})
        return What(
            subtypes=subtypes,
            action=v.ACTIONS.get(self.interaction, "E"),
            status=self.status,
            error_code=self.error_code,
        )

    def build(self, context: BuildContext) -> list[JsonDict]:
        touched = [
            Touched(reference, context.patients_of(resource))
            for resource in self.returned
            if (reference := version_reference(resource)) is not None
        ]
        if not touched and self.target.key is not None:
            # Nothing returned (refused, failed, deleted): record what was asked for. A Patient
            # target goes into that patient's access log, attempts included.
            is_patient = self.target.resource_type == "Patient"
            touched = [Touched(self.target.key, (self.target.key,) if is_patient else ())]
        extra = []
        if self.params or self.interaction in _QUERY_SHAPED:
            extra.append(query_entity(query_text(self.method, self.target, self.params)))
        return per_patient(
            what=self.what(),
            caller=self.caller,
            server=context.server,
            recorded=self.recorded,
            touched=touched,
            extra=extra,
            named=named_patients(self.target, self.params),
        )


class AuditObserver:
    """``Pipeline.observers`` member: called after every dispatched call."""

    def __init__(self, writer: AuditWriter) -> None:
        self.writer = writer

    async def __call__(
        self, call: Call, route: Route, outcome: Outcome | None, error: FhirError | None
    ) -> None:
        interaction = route.interaction
        if interaction in NOT_AUDITED:
            return
        if (
            interaction is Interaction.BATCH
            and isinstance(call.body, dict)
            and call.body.get("type") == "transaction"
        ):
            interaction = Interaction.TRANSACTION  # one route serves both kinds of bundle
        written = take_written(call.ctx)
        if interaction in WRITES and error is None and written:
            return  # the hook's AuditEvent committed with the write
        returned: list[JsonDict] = []
        if outcome is not None and interaction not in _BUNDLES:  # entries were recorded one by one
            returned = returned_resources(outcome.body)
            if not returned and outcome.stored is not None and outcome.stored.resource is not None:
                returned = [outcome.stored.resource]  # a write that changed nothing, a Binary read
        await self.writer.record(
            Observed(
                recorded=now(),
                caller=Caller.of(call.ctx),
                interaction=interaction,
                method=call.method,
                target=call.target,
                params=list(call.params),
                status=error.status if error is not None else (outcome.status if outcome else 200),
                error_code=error.code if error is not None else None,
                returned=returned,
            )
        )
