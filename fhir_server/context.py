"""Who is asking and how: the request context every interaction receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Interaction(StrEnum):
    """FHIR interactions, as the policy gate and the CapabilityStatement name them."""

    READ = "read"
    VREAD = "vread"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    HISTORY_INSTANCE = "history-instance"
    HISTORY_TYPE = "history-type"
    HISTORY_SYSTEM = "history-system"
    CREATE = "create"
    SEARCH_TYPE = "search-type"
    SEARCH_SYSTEM = "search-system"
    OPERATION = "operation"
    BATCH = "batch"
    TRANSACTION = "transaction"
    CAPABILITIES = "capabilities"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``scopes`` are SMART scopes as granted."""

    subject: str | None = None
    client_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    patient: str | None = None  # patient id of a patient-context launch
    fhir_user: str | None = None  # "Practitioner/123", "Patient/9" ...
    encounter: str | None = None
    role: str | None = None  # the clinic role (fhir_server.auth.roles) the token was issued for

    @classmethod
    def system(cls) -> Principal:
        """Full access: used when authorization is disabled and by trusted internal callers."""
        return cls(subject="system", client_id="system", scopes=frozenset({"system/*.*"}))


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    base_url: str  # public FHIR base, no trailing slash
    request_id: str = "-"
    lenient: bool = False  # Prefer: handling=lenient
    origin: str | None = None  # the caller's network address (REST), for the audit trail
    # State the steps of one call share (and the entries of its bundle), keyed by the module that
    # owns it: e.g. the blobs a raw upload stored for the Binary write that follows.
    scratch: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
