"""Who is asking and how: the request context every interaction receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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
