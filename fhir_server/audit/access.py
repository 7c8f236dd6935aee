"""Who may read the audit log: administrators and privacy officers; a patient, their own record's.

Scopes alone would open the log far too wide (``user/*.rs``, a nurse's, covers AuditEvent). So the
gate is wrapped: AuditEvents are visible only to an *audit reader*, a caller who is an
administrator (``user/*.cruds``, ``system/*.cruds``) or holds a scope that names AuditEvent itself
(``user/AuditEvent.rs``: the privacy-officer role; ``system/AuditEvent.rs``: a SIEM's backend
client). Everyone else finds none, on every path (search, compartment search, ``_include``,
``_revinclude``), and is refused (403) when asking for them directly.

A caller confined to one patient (a patient-facing app holding ``patient/AuditEvent.rs`` or
``patient/*.rs``) may read the access log of its own record through ``AuditEvent?patient=...``
and ``AuditEvent/{id}`` only, in a reduced form (``owner_view``): who, when, what, without the
search queries or network addresses, nor any other patient.
"""

from __future__ import annotations

from typing import Any, Final

from fhir_server.access import AccessGate, SearchConstraint
from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import Forbidden
from fhir_server.store.repository import Indexer

JsonDict = dict[str, Any]
AUDIT_EVENT: Final = "AuditEvent"
_READ_LETTERS: Final = frozenset("rs")
_V1_READ: Final = frozenset({"read", "*"})
NOBODY: Final = SearchConstraint(alternatives=[])  # a constraint no resource meets


def names_audit_event(scope: str) -> bool:
    """``user/AuditEvent.rs``, ``system/AuditEvent.read`` ...: a read scope on AuditEvent itself
    (not a wildcard), in the user or system context."""
    context, _, rest = scope.partition("/")
    resource_type, _, permissions = rest.partition(".")
    permissions = permissions.split("?", 1)[0]
    if context not in ("user", "system") or resource_type != AUDIT_EVENT:
        return False
    return permissions in _V1_READ or bool(_READ_LETTERS & set(permissions))


class AuditGate:
    """The access gate with the audit log's own rule (wraps the scope gate, or ``AllowAll``)."""

    def __init__(self, inner: AccessGate) -> None:
        self.inner = inner

    # ----- the rule ------------------------------------------------------------------------------

    def reads_audit(self, ctx: RequestContext) -> bool:
        return self.inner.is_administrator(ctx) or any(
            names_audit_event(scope) for scope in ctx.principal.scopes
        )

    def own_patient(self, ctx: RequestContext) -> str | None:
        """``Patient/X`` for a caller confined to patient X whose scopes cover AuditEvent."""
        return self.inner.confinement(ctx, AUDIT_EVENT)

    # ----- AccessGate ----------------------------------------------------------------------------

    def require(self, ctx: RequestContext, interaction: Interaction, resource_type: str | None) -> None:
        if resource_type == AUDIT_EVENT and not self.reads_audit(ctx) and self.own_patient(ctx) is None:
            raise Forbidden("the audit log is open to administrators and privacy officers only")
        self.inner.require(ctx, interaction, resource_type)

    def can_see(self, ctx: RequestContext, resource: dict[str, Any]) -> bool:
        if resource.get("resourceType") == AUDIT_EVENT and not self.reads_audit(ctx):
            return False
        return self.inner.can_see(ctx, resource)

    def check_write(self, ctx: RequestContext, interaction: Interaction, resource: dict[str, Any]) -> None:
        if resource.get("resourceType") == AUDIT_EVENT:
            raise Forbidden("AuditEvents are recorded by the server only")
        self.inner.check_write(ctx, interaction, resource)

    def search_constraint(self, ctx: RequestContext, resource_type: str) -> SearchConstraint:
        if resource_type == AUDIT_EVENT and not self.reads_audit(ctx):
            return NOBODY
        return self.inner.search_constraint(ctx, resource_type)

    def sees_everything(self, ctx: RequestContext, resource_type: str) -> bool:
        if resource_type == AUDIT_EVENT and not self.reads_audit(ctx):
            return False
        return self.inner.sees_everything(ctx, resource_type)

    def confinement(self, ctx: RequestContext, resource_type: str) -> str | None:
        return self.inner.confinement(ctx, resource_type)

    def is_administrator(self, ctx: RequestContext) -> bool:
        return self.inner.is_administrator(ctx)

    def redact(self, ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
        return self.inner.redact(ctx, resource)

    def preserve_hidden(
        self, ctx: RequestContext, previous: dict[str, Any] | None, incoming: dict[str, Any]
    ) -> dict[str, Any]:
        return self.inner.preserve_hidden(ctx, previous, incoming)

    def check_search(self, ctx: RequestContext, resource_type: str, params: list[tuple[str, str]]) -> None:
        self.inner.check_search(ctx, resource_type, params)


class OwnRecordGate:
    """The gate of a patient reading their own access log: AuditEvents of their compartment only,
    nothing else (no ``_include`` can bring in other resources)."""

    def __init__(self, patient: str, indexer: Indexer) -> None:
        self.patient = patient
        self.indexer = indexer

    def require(self, ctx: RequestContext, interaction: Interaction, resource_type: str | None) -> None:
        if resource_type != AUDIT_EVENT:
            raise Forbidden("only AuditEvents of your own record")

    def can_see(self, ctx: RequestContext, resource: dict[str, Any]) -> bool:
        return resource.get("resourceType") == AUDIT_EVENT and self.patient in self.indexer.compartments(
            resource
        )

    def check_write(self, ctx: RequestContext, interaction: Interaction, resource: dict[str, Any]) -> None:
        raise Forbidden("the audit log cannot be written")

    def search_constraint(self, ctx: RequestContext, resource_type: str) -> SearchConstraint:
        return SearchConstraint(compartment=self.patient) if resource_type == AUDIT_EVENT else NOBODY

    def sees_everything(self, ctx: RequestContext, resource_type: str) -> bool:
        return False

    def confinement(self, ctx: RequestContext, resource_type: str) -> str | None:
        return self.patient

    def is_administrator(self, ctx: RequestContext) -> bool:
        return False

    def redact(self, ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
        return resource  # the route shows the patient's own view (owner_view) of each event

    def preserve_hidden(
        self, ctx: RequestContext, previous: dict[str, Any] | None, incoming: dict[str, Any]
    ) -> dict[str, Any]:
        raise Forbidden("the audit log cannot be written")

    def check_search(self, ctx: RequestContext, resource_type: str, params: list[tuple[str, str]]) -> None:
        if resource_type != AUDIT_EVENT:
            raise Forbidden("only AuditEvents of your own record")


def owner_view(event: JsonDict, patient: str) -> JsonDict:
    """An AuditEvent as its patient sees it: who, when, what; no query (it may name others), no
    network address, no entity or agent that is another patient."""
    shown = dict(event)

    def other_patient(reference: Any) -> bool:
        ref = reference.get("reference") if isinstance(reference, dict) else None
        return isinstance(ref, str) and ref.startswith("Patient/") and ref.split("/_history/")[0] != patient

    agents = []
    for agent in event.get("agent", []):
        if other_patient(agent.get("who")):
            continue
        agents.append({key: value for key, value in agent.items() if key != "network"})
    shown["agent"] = agents
    entities = [
        entity
        for entity in event.get("entity", [])
        if "query" not in entity and not other_patient(entity.get("what"))
    ]
    if entities:
        shown["entity"] = entities
    else:
        shown.pop("entity", None)
    return shown
