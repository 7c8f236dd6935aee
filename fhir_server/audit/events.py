"""Building AuditEvent resources (BALP-shaped) from what happened: pure functions, no I/O.

Who: the agents are the person (``fhirUser``, else the token's subject, when it is not the app
itself), the client app with the caller's network address, and this server. What: one ``data``
entity per resource version touched, one ``patient`` entity per patient whose data it was, the
query of a search, and the request id (``X-Request-ID``) that ties together every event of one
HTTP request (a bundle's entries and the bundle itself).

One event names at most one patient's data when it can: a search that returned several patients'
resources is recorded as one event per patient (BALP's rule), so each patient's access log holds
only their own.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_server.audit import vocabulary as v
from fhir_server.context import Principal, RequestContext
from fhir_server.store.repository import instant, new_id

JsonDict = dict[str, Any]
URI_SYSTEM = "urn:ietf:rfc:3986"


@dataclass(frozen=True)
class Server:
    """This server, as agent and source of every event."""

    base_url: str

    def reference(self) -> JsonDict:
        return {"identifier": {"system": URI_SYSTEM, "value": self.base_url}, "display": "FHIR server"}


@dataclass(frozen=True)
class Caller:
    """Who asked, as the audit trail names them."""

    subject: str | None
    client_id: str | None
    fhir_user: str | None
    origin: str | None
    request_id: str | None
    username: str | None = None  # a sign-in's account name (the subject may not be known yet)

    @classmethod
    def of(cls, ctx: RequestContext) -> Caller:
        principal: Principal = ctx.principal
        return cls(
            subject=principal.subject,
            client_id=principal.client_id,
            fhir_user=principal.fhir_user,
            origin=ctx.origin,
            request_id=ctx.request_id if ctx.request_id not in (None, "", "-") else None,
        )

    @property
    def has_person(self) -> bool:
        return (
            self.fhir_user is not None
            or self.username is not None
            or (self.subject is not None and self.subject != self.client_id and self.subject != "system")
        )

    def person(self) -> JsonDict:
        who: JsonDict = {}
        if self.fhir_user:
            who["reference"] = self.fhir_user
        if self.subject:
            who["identifier"] = {"system": v.SUBJECT_SYSTEM, "value": self.subject}
        if not who:
            who["display"] = self.username or "unknown user"
        return who

    def app(self) -> JsonDict:
        if self.client_id is None:
            return {"display": "unauthenticated client"}
        return {
            "identifier": {"system": v.CLIENT_ID_SYSTEM, "value": self.client_id},
            "display": self.client_id,
        }


def agents(caller: Caller, server: Server) -> list[JsonDict]:
    found: list[JsonDict] = []
    if caller.has_person:
        person: JsonDict = {"type": {"coding": [v.USER_AGENT]}, "who": caller.person(), "requestor": True}
        if caller.username:
            person["altId"] = caller.username
        found.append(person)
    client: JsonDict = {
        "type": {"coding": [v.CLIENT_AGENT]},
        "who": caller.app(),
        "requestor": not caller.has_person,
    }
    if caller.origin:
        client["network"] = {"address": caller.origin, "type": v.NETWORK_IP}
    found.append(client)
    found.append(
        {
            "type": {"coding": [v.SERVER_AGENT]},
            "who": server.reference(),
            "requestor": False,
            "network": {"address": server.base_url, "type": v.NETWORK_URI},
        }
    )
    return found


# ----- entities ----------------------------------------------------------------------------------


def data_entity(reference: str) -> JsonDict:
    """A resource (version) the interaction touched: ``Type/id`` or ``Type/id/_history/n``."""
    return {"what": {"reference": reference}, "type": v.ENTITY_SYSTEM_OBJECT, "role": v.ROLE_DOMAIN_RESOURCE}


def patient_entity(reference: str) -> JsonDict:
    return {"what": {"reference": reference}, "type": v.ENTITY_PERSON, "role": v.ROLE_PATIENT}


def query_entity(query: str) -> JsonDict:
    """BALP's query entity: the search as sent (base64, as ``AuditEvent.entity.query`` is)."""
    return {
        "type": v.ENTITY_SYSTEM_OBJECT,
        "role": v.ROLE_QUERY,
        "query": base64.b64encode(query.encode()).decode(),
    }


def request_entity(request_id: str) -> JsonDict:
    return {"what": {"identifier": {"value": request_id}}, "type": v.REQUEST_ID}


def version_reference(resource: JsonDict) -> str | None:
    """``Type/id/_history/n`` of a resource as returned (``Type/id`` without a version)."""
    resource_type, resource_id = resource.get("resourceType"), resource.get("id")
    if not isinstance(resource_type, str) or not isinstance(resource_id, str):
        return None
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    base = f"{resource_type}/{resource_id}"
    return f"{base}/_history/{version}" if isinstance(version, str) else base


# ----- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class What:
    """What one event records besides who: the interaction, its result and the entities."""

    subtypes: list[JsonDict]
    action: str
    status: int
    error_code: str | None = None
    event_type: JsonDict | None = None  # rest unless given


def audit_event(
    *,
    what: What,
    caller: Caller,
    server: Server,
    recorded: datetime,
    entities: Iterable[JsonDict],
) -> JsonDict:
    moment = instant(recorded)
    event: JsonDict = {
        "resourceType": "AuditEvent",
        "id": new_id(),
        "meta": {"versionId": "1", "lastUpdated": moment},
        "type": what.event_type or v.REST,
        "subtype": what.subtypes,
        "action": what.action,
        "recorded": moment,
        "outcome": v.outcome_code(what.status),
        "agent": agents(caller, server),
        "source": {"observer": server.reference(), "type": [v.APPLICATION_SERVER]},
    }
    if what.status >= 400:
        event["outcomeDesc"] = f"{what.status} {what.error_code or 'error'}"
    found = list(entities)
    if caller.request_id:
        found.append(request_entity(caller.request_id))
    if found:
        event["entity"] = found
    return event


@dataclass(frozen=True)
class Touched:
    """A resource an interaction returned or changed, and the patients whose data it is."""

    reference: str
    patients: tuple[str, ...]


def per_patient(
    *,
    what: What,
    caller: Caller,
    server: Server,
    recorded: datetime,
    touched: list[Touched],
    extra: list[JsonDict],
    named: Iterable[str] = (),
) -> list[JsonDict]:
    """One event per patient whose data was touched (with that patient's resources only), one for
    resources of no patient, and one in any case (a search that found nothing is still recorded).
    ``named``: patients the request asked about (a search by patient that found nothing is still
    in that patient's log)."""
    by_patient: dict[str | None, list[str]] = {patient: [] for patient in named}
    for item in touched:
        for patient in item.patients or (None,):
            by_patient.setdefault(patient, []).append(item.reference)
    if not by_patient:
        by_patient[None] = []
    events = []
    for patient, references in by_patient.items():
        entities = [patient_entity(patient)] if patient is not None else []
        entities += [data_entity(reference) for reference in dict.fromkeys(references)]
        events.append(
            audit_event(
                what=what, caller=caller, server=server, recorded=recorded, entities=[*entities, *extra]
            )
        )
    return events
