"""The repository hook: every write's AuditEvent and Provenance, in the write's own transaction.

Repository hooks run inside the write's MongoDB transaction, after the new version is known and
before commit, on every path (REST, bundle entry, operation, import, a consequence the server's
rules make). The AuditEvent and Provenance go to the audit outbox in one insert, so they commit
with the write or not at all; the audit writer moves them into their collections right after.

The hook also keeps the trail itself unchangeable: an AuditEvent is never written through the
repository (the audit log writes them), and a Provenance, once recorded, is never changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from fhir_server.audit import vocabulary as v
from fhir_server.audit.events import Caller, Server, What, audit_event, data_entity, patient_entity
from fhir_server.audit.observer import mark_written
from fhir_server.audit.provenance import client_provenance, server_provenance
from fhir_server.audit.trail import AuditTrail
from fhir_server.audit.writer import AuditWriter
from fhir_server.errors import MethodNotAllowed, Unprocessable
from fhir_server.services import Validator
from fhir_server.store.audit_log import AuditLog
from fhir_server.store.repository import Change, Indexer, WriteContext, now

JsonDict = dict[str, Any]
AUDIT_EVENT: Final = "AuditEvent"
PROVENANCE: Final = "Provenance"
CONSEQUENCE: Final[JsonDict] = {
    "system": v.SERVER_CODES,
    "code": "consequence",
    "display": "Made by a server rule",
}


def refuse_audit_change(resource_type: str, *, existing: bool) -> None:
    """AuditEvents are written by the server only; a Provenance never changes once recorded."""
    if resource_type == AUDIT_EVENT:
        raise MethodNotAllowed(
            "AuditEvents are recorded by the server and can be neither written, changed nor deleted",
            headers={"Allow": "GET"},
        )
    if resource_type == PROVENANCE and existing:
        raise MethodNotAllowed(
            "a Provenance is a record of what happened and cannot be changed or deleted",
            headers={"Allow": "GET, POST"},
        )


def written_version(change: Change) -> str:
    """``Type/id/_history/n`` of the version the write made (a deletion is a version too)."""
    key = f"{change.resource_type}/{change.resource_id}"
    if change.current is not None:
        return f"{key}/_history/{change.current['meta']['versionId']}"
    previous = change.previous or {}
    number = int((previous.get("meta") or {}).get("versionId", "0")) + 1
    return f"{key}/_history/{number}"


def written_at(change: Change) -> datetime:
    """The moment of the write: the new version's ``lastUpdated`` (a deletion's is not returned)."""
    if change.current is not None:
        return datetime.fromisoformat(change.current["meta"]["lastUpdated"].replace("Z", "+00:00"))
    return now()


class AuditWriteHook:
    def __init__(self, *, trail: AuditTrail, indexer: Indexer, validator: Validator) -> None:
        self.trail = trail
        self.log: AuditLog = trail.log
        self.writer: AuditWriter = trail.writer
        self.server: Server = trail.server
        self.indexer = indexer
        self.validator = validator

    async def __call__(self, wctx: WriteContext, change: Change) -> None:
        refuse_audit_change(change.resource_type, existing=change.previous is not None)
        consequence = wctx.cause is not None
        caller = Caller.of(wctx.cause or wctx.ctx)
        recorded = written_at(change)
        version = written_version(change)
        content = change.current if change.current is not None else change.previous
        patients = [
            c for c in (self.indexer.compartments(content) if content else []) if c.startswith("Patient/")
        ]
        subtypes = [v.interaction_subtype(v.WRITE_SUBTYPES[change.method])]
        if consequence:
            subtypes.append(CONSEQUENCE)
        action = (
            "C" if change.previous is None and change.current is not None else v.WRITE_ACTIONS[change.method]
        )
        event = audit_event(
            what=What(subtypes=subtypes, action=action, status=201 if action == "C" else 200),
            caller=caller,
            server=self.server,
            recorded=recorded,
            entities=[*(patient_entity(p) for p in patients), data_entity(version)],
        )
        provenance = None
        if change.resource_type != PROVENANCE:  # a client's Provenance is its own record
            provenance = server_provenance(
                target=version,
                method=change.method,
                recorded=recorded,
                caller=caller,
                server=self.server,
                consequence=consequence,
            )
        await self.log.outbox(event=event, provenance=provenance, session=wctx.session)
        await self._client_provenance(wctx, version, recorded)
        mark_written(wctx.ctx, version)
        self.writer.outbox_written()

    async def _client_provenance(self, wctx: WriteContext, version: str, recorded: datetime) -> None:
        client = client_provenance(wctx.ctx)
        if client is None:
            return
        stored = client.stored_form(recorded)
        if not client.checked:
            issues = [
                issue
                for issue in self.validator.validate({**stored, "target": [{"reference": version}]})
                if issue.severity in ("error", "fatal")
            ]
            if issues:
                first = issues[0]
                raise Unprocessable(
                    f"X-Provenance: {first.diagnostics}", ("X-Provenance",), extra_issues=issues[1:]
                )
            client.checked = True
        await self.log.outbox_client_provenance(
            provenance=stored, target={"reference": version}, session=wctx.session
        )
