"""An export request as the job keeps it: what to export, for whom, decided at kick-off.

Everything is checked and resolved when the export is asked for (types, filters, the Group's
members), so the job that runs later only reads; it is stored as the job's plain-JSON ``params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from fhir_server.context import Principal

KIND: Final = "bulk-export"
ALL_TYPES: Final = "*"  # the key of ``_elements`` names that apply to every type

ParamSet = list[tuple[str, str]]


class ExportLevel(StrEnum):
    SYSTEM = "system"  # [base]/$export
    PATIENT = "patient"  # [base]/Patient/$export
    GROUP = "group"  # [base]/Group/{id}/$export


@dataclass(frozen=True)
class Requester:
    """Who asked for the export: its access is what the job exports with, and only the same
    client (and user) may poll, download and delete it."""

    subject: str | None
    client_id: str | None
    scopes: tuple[str, ...]
    patient: str | None = None
    fhir_user: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Requester:
        return cls(
            subject=principal.subject,
            client_id=principal.client_id,
            scopes=tuple(sorted(principal.scopes)),
            patient=principal.patient,
            fhir_user=principal.fhir_user,
        )

    def principal(self) -> Principal:
        return Principal(
            subject=self.subject,
            client_id=self.client_id,
            scopes=frozenset(self.scopes),
            patient=self.patient,
            fhir_user=self.fhir_user,
        )

    def is_same_caller(self, principal: Principal) -> bool:
        return (
            principal.client_id == self.client_id
            and principal.subject == self.subject
            and principal.patient == self.patient
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "clientId": self.client_id,
            "scopes": list(self.scopes),
            "patient": self.patient,
            "fhirUser": self.fhir_user,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Requester:
        return cls(
            subject=data.get("subject"),
            client_id=data.get("clientId"),
            scopes=tuple(data.get("scopes") or ()),
            patient=data.get("patient"),
            fhir_user=data.get("fhirUser"),
        )


@dataclass(frozen=True)
class ExportRequest:
    level: ExportLevel
    request_url: str  # the kick-off URL, echoed in the manifest's ``request``
    transaction_time: datetime
    requester: Requester
    types: list[str]  # exported in this order
    since: datetime | None = None
    filters: dict[str, list[ParamSet]] = field(default_factory=dict)  # _typeFilter, per type (ORed)
    elements: dict[str, list[str]] = field(default_factory=dict)  # _elements, per type or ALL_TYPES
    group: str | None = None  # the Group's id (GROUP level)
    patients: list[str] | None = None  # patient ids the export is confined to (None: every patient)
    issues: list[str] = field(default_factory=list)  # what lenient handling left out, for error[]
    lenient: bool = False

    def elements_for(self, resource_type: str) -> list[str] | None:
        names = [*self.elements.get(ALL_TYPES, []), *self.elements.get(resource_type, [])]
        return names or None

    def to_params(self) -> dict[str, Any]:
        return {
            "level": self.level.value,
            "request": self.request_url,
            "transactionTime": self.transaction_time.isoformat(),
            "requester": self.requester.to_json(),
            "types": self.types,
            "since": self.since.isoformat() if self.since else None,
            "filters": {
                t: [[list(p) for p in params] for params in sets] for t, sets in self.filters.items()
            },
            "elements": self.elements,
            "group": self.group,
            "patients": self.patients,
            "issues": self.issues,
            "lenient": self.lenient,
        }

    @classmethod
    def from_params(cls, data: dict[str, Any]) -> ExportRequest:
        since = data.get("since")
        return cls(
            level=ExportLevel(data["level"]),
            request_url=data["request"],
            transaction_time=datetime.fromisoformat(data["transactionTime"]),
            requester=Requester.from_json(data["requester"]),
            types=list(data["types"]),
            since=datetime.fromisoformat(since) if since else None,
            filters={
                t: [[(name, value) for name, value in params] for params in sets]
                for t, sets in (data.get("filters") or {}).items()
            },
            elements=dict(data.get("elements") or {}),
            group=data.get("group"),
            patients=data.get("patients"),
            issues=list(data.get("issues") or ()),
            lenient=bool(data.get("lenient")),
        )
