"""The patient picker: find patients by name, birth date and MRN, as the signed-in user may see them.

With the app's services (``app.state.services``) the search engine answers, under the user's own
granted scopes and the policy gate, so the picker never shows a patient the user could not read.
Without them (the authorization server alone) a small storage query stands in, filtered by the same
gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Protocol

from fhir_server.auth.gate import ScopeGate
from fhir_server.context import Principal, RequestContext

MAX_CHOICES: Final = 20
MRN_SYSTEM: Final = "http://clinic.example.org/fhir/sid/mrn"
MRN_TYPE_CODE: Final = "MR"
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class PatientQuery:
    name: str = ""
    birth_date: str = ""
    mrn: str = ""

    @property
    def empty(self) -> bool:
        return not (self.name or self.birth_date or self.mrn)

    def problem(self) -> str | None:
        if self.empty:
            return "Enter a name, a birth date or a medical record number."
        if self.birth_date and not _DATE.match(self.birth_date):
            return "Birth date: YYYY-MM-DD."
        if self.name and len(self.name) < 2:
            return "Name: at least two letters."
        return None

    def search_params(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        if self.name:
            params.extend(("name", part) for part in self.name.split())
        if self.birth_date:
            params.append(("birthdate", self.birth_date))
        if self.mrn:
            params.append(("identifier", self.mrn))
        return params


@dataclass(frozen=True)
class PatientChoice:
    id: str
    name: str
    birth_date: str
    mrn: str

    @classmethod
    def of(cls, patient: dict[str, Any]) -> PatientChoice:
        return cls(
            id=str(patient.get("id")),
            name=display_name(patient),
            birth_date=str(patient.get("birthDate") or ""),
            mrn=mrn_of(patient),
        )


def display_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name") or []:
        if not isinstance(name, dict):
            continue
        if name.get("text"):
            return str(name["text"])
        given = " ".join(name.get("given") or [])
        family = name.get("family") or ""
        text = f"{family.upper()}, {given}" if family and given else family or given
        if text:
            return text
    return "(no name)"


def mrn_of(patient: dict[str, Any]) -> str:
    identifiers = [item for item in patient.get("identifier") or [] if isinstance(item, dict)]
    for item in identifiers:
        codes = [coding.get("code") for coding in (item.get("type") or {}).get("coding") or []]
        if item.get("system") == MRN_SYSTEM or MRN_TYPE_CODE in codes:
            return str(item.get("value") or "")
    return ""


class PatientFinder(Protocol):
    async def find(self, *, principal: Principal, query: PatientQuery) -> tuple[list[PatientChoice], bool]:
        """Up to ``MAX_CHOICES`` patients the principal may read, and whether there were more."""

    async def get(self, *, principal: Principal, patient_id: str) -> PatientChoice | None:
        """The patient, if it exists and the principal may read it."""


class SearchFinder:
    """Through the search engine (``fhir_server.services.Searcher``)."""

    def __init__(self, search: Any, gate: ScopeGate, base_url: str) -> None:
        self.search = search
        self.gate = gate
        self.base_url = base_url.rstrip("/")

    async def find(self, *, principal: Principal, query: PatientQuery) -> tuple[list[PatientChoice], bool]:
        params = [*query.search_params(), ("_count", str(MAX_CHOICES + 1))]
        return await self._run(principal, params)

    async def get(self, *, principal: Principal, patient_id: str) -> PatientChoice | None:
        found, _ = await self._run(principal, [("_id", patient_id)])
        return next((choice for choice in found if choice.id == patient_id), None)

    async def _run(
        self, principal: Principal, params: list[tuple[str, str]]
    ) -> tuple[list[PatientChoice], bool]:
        ctx = RequestContext(principal=principal, base_url=self.base_url)
        bundle = await self.search.search(ctx=ctx, gate=self.gate, resource_type="Patient", params=params)
        patients = [
            entry["resource"]
            for entry in bundle.get("entry") or []
            if (entry.get("resource") or {}).get("resourceType") == "Patient"
        ]
        choices = sorted((PatientChoice.of(patient) for patient in patients), key=lambda choice: choice.name)
        return choices[:MAX_CHOICES], len(choices) > MAX_CHOICES
