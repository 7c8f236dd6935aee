"""Attaching the audit trail: to the services (the write hook, the gate), and to the pipeline (the
observer and AuditEvent's own routes). ``fhir_server.assembly`` is the one caller."""

from __future__ import annotations

from fhir_server.access import AccessGate
from fhir_server.audit.access import AuditGate
from fhir_server.audit.events import Server
from fhir_server.audit.hooks import AuditWriteHook
from fhir_server.audit.observer import AuditObserver
from fhir_server.audit.routes import AUDIT_ROUTES
from fhir_server.audit.trail import AuditTrail
from fhir_server.audit.writer import AuditWriter
from fhir_server.interactions.pipeline import Pipeline
from fhir_server.services import Services
from fhir_server.settings import Settings
from fhir_server.store.audit_chain import ChainKey
from fhir_server.store.audit_log import AUDIT_EVENT, PROVENANCE, AuditLog

__all__ = ["AUDIT_ROUTES", "audit_gate", "audit_trail", "install_audit", "observe"]


def audit_gate(gate: AccessGate, settings: Settings) -> AccessGate:
    """The gate with the audit log's access rule (unchanged when auditing is off)."""
    return AuditGate(gate) if settings.audit_enabled else gate


def install_audit(services: Services) -> AuditTrail | None:
    """Record every write (AuditEvent and Provenance in its transaction); the trail, or None when
    auditing is off. Install it after the other hooks: a write they refuse costs no audit insert."""
    settings = services.settings
    if not settings.audit_enabled:
        return None
    repository = services.repository
    server = Server(settings.base_url.rstrip("/"))
    log = AuditLog(db=repository.db, indexer=repository.indexer, key=ChainKey.of(settings.audit_chain_key))
    writer = AuditWriter(
        log=log,
        server=server,
        indexer=repository.indexer,
        interval=settings.audit_flush_interval,
        max_pending=settings.audit_max_pending,
        prepare=lambda: repository.ensure_collections([AUDIT_EVENT, PROVENANCE]),
    )
    trail = AuditTrail(log=log, writer=writer, server=server, retention_days=settings.audit_retention_days)
    repository.hooks.append(
        AuditWriteHook(trail=trail, indexer=repository.indexer, validator=services.validator)
    )
    return trail


def audit_trail(services: Services) -> AuditTrail | None:
    """The trail ``install_audit`` attached to these services (found through its write hook)."""
    for hook in services.repository.hooks:
        if isinstance(hook, AuditWriteHook):
            return hook.trail
    return None


def observe(pipeline: Pipeline) -> None:
    """Let the trail observe every call the pipeline dispatches."""
    trail = audit_trail(pipeline.services)
    if trail is not None:
        pipeline.observers.append(AuditObserver(trail.writer))
