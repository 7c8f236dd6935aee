"""The codes AuditEvents and Provenance carry, after the IHE Basic Audit Log Patterns (BALP).

BALP records a RESTful interaction as ``type`` rest, ``subtype`` the FHIR interaction, ``action``
C/R/U/D/E, and three agents (the user, the client app, this server), with entities for the data
touched, the patient it belongs to, the search query and the request id.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from fhir_server.context import Interaction

Coding = dict[str, Any]

AUDIT_EVENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION: Final = "http://hl7.org/fhir/restful-interaction"
DICOM: Final = "http://dicom.nema.org/resources/ontology/DCM"
PARTICIPATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SOURCE_TYPE: Final = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE: Final = "http://terminology.hl7.org/CodeSystem/object-role"
BALP_ENTITY_TYPE: Final = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
DATA_OPERATION: Final = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_PARTICIPANT: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
IHE_EVENT: Final = "urn:ihe:event-type-code"
# Our own codes, where neither DICOM nor IHE has one (an operation's name, token revocation ...).
SERVER_CODES: Final = "http://clinic.example.org/fhir/CodeSystem/audit-event-subtype"
CLIENT_ID_SYSTEM: Final = "http://clinic.example.org/fhir/sid/oauth-client"
SUBJECT_SYSTEM: Final = "http://clinic.example.org/fhir/sid/oauth-subject"

REST: Final[Coding] = {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}

# BALP's agent types: the person (information recipient), the client app (source of the request)
# and this server (its destination).
USER_AGENT: Final[Coding] = {"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}
CLIENT_AGENT: Final[Coding] = {"system": DICOM, "code": "110153", "display": "Source Role ID"}
SERVER_AGENT: Final[Coding] = {"system": DICOM, "code": "110152", "display": "Destination Role ID"}
APPLICATION_SERVER: Final[Coding] = {"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}
NETWORK_IP: Final = "2"  # AuditEvent.agent.network.type: IP address
NETWORK_URI: Final = "5"

ENTITY_PERSON: Final[Coding] = {"system": ENTITY_TYPE, "code": "1", "display": "Person"}
ENTITY_SYSTEM_OBJECT: Final[Coding] = {"system": ENTITY_TYPE, "code": "2", "display": "System Object"}
ROLE_PATIENT: Final[Coding] = {"system": OBJECT_ROLE, "code": "1", "display": "Patient"}
ROLE_DOMAIN_RESOURCE: Final[Coding] = {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"}
ROLE_QUERY: Final[Coding] = {"system": OBJECT_ROLE, "code": "24", "display": "Query"}
REQUEST_ID: Final[Coding] = {"system": BALP_ENTITY_TYPE, "code": "XrequestId", "display": "X-Request-Id"}
QUERY_ROLE_CODE: Final = ROLE_QUERY["code"]

OUTCOME_SUCCESS: Final = "0"
OUTCOME_MINOR_FAILURE: Final = "4"  # refused or invalid request (4xx)
OUTCOME_SERIOUS_FAILURE: Final = "8"  # the server failed (5xx)

# The action each interaction is: Create, Read, Update, Delete or Execute (BALP's choices).
ACTIONS: Final[dict[Interaction, str]] = {
    Interaction.CREATE: "C",
    Interaction.READ: "R",
    Interaction.VREAD: "R",
    Interaction.HISTORY_INSTANCE: "R",
    Interaction.HISTORY_TYPE: "R",
    Interaction.HISTORY_SYSTEM: "R",
    Interaction.UPDATE: "U",
    Interaction.PATCH: "U",
    Interaction.DELETE: "D",
    Interaction.SEARCH_TYPE: "E",
    Interaction.SEARCH_SYSTEM: "E",
    Interaction.OPERATION: "E",
    Interaction.BATCH: "E",
    Interaction.TRANSACTION: "E",
}
WRITE_ACTIONS: Final[dict[str, str]] = {"POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
WRITE_SUBTYPES: Final[dict[str, str]] = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
DATA_OPERATIONS: Final[dict[str, str]] = {
    "POST": "CREATE",
    "PUT": "UPDATE",
    "PATCH": "UPDATE",
    "DELETE": "DELETE",
}


def interaction_subtype(code: str) -> Coding:
    return {"system": RESTFUL_INTERACTION, "code": code}


def outcome_code(status: int) -> str:
    if status < 400:
        return OUTCOME_SUCCESS
    return OUTCOME_MINOR_FAILURE if status < 500 else OUTCOME_SERIOUS_FAILURE


class SecurityEventKind(StrEnum):
    """Security events the auth layer reports (``AuditTrail.security_event``)."""

    SIGN_IN = "sign-in"
    SIGN_OUT = "sign-out"
    TOKEN_ISSUED = "token-issued"
    TOKEN_REFRESHED = "token-refreshed"
    TOKEN_REVOKED = "token-revoked"
    ACCOUNT_CHANGED = "account-changed"  # a user created, disabled, its password or fhirUser changed
    ROLE_CHANGED = "role-changed"  # a user's role, a client's scopes
    CLIENT_CHANGED = "client-changed"  # an OAuth client registered, changed or removed
    AUDIT_EXPORTED = "audit-exported"  # the audit log left the server (fhir-server audit export)
    AUDIT_EXPIRED = "audit-expired"  # retention removed old events


_USER_AUTHENTICATION: Final[Coding] = {"system": DICOM, "code": "110114", "display": "User Authentication"}
_SECURITY_ALERT: Final[Coding] = {"system": DICOM, "code": "110113", "display": "Security Alert"}
_EXPORT: Final[Coding] = {"system": DICOM, "code": "110106", "display": "Export"}
_GET_ACCESS_TOKEN: Final[Coding] = {"system": IHE_EVENT, "code": "ITI-71", "display": "Get Access Token"}

# kind -> (type, subtypes, action)
SECURITY_EVENTS: Final[dict[SecurityEventKind, tuple[Coding, list[Coding], str]]] = {
    SecurityEventKind.SIGN_IN: (
        _USER_AUTHENTICATION,
        [{"system": DICOM, "code": "110122", "display": "Login"}],
        "E",
    ),
    SecurityEventKind.SIGN_OUT: (
        _USER_AUTHENTICATION,
        [{"system": DICOM, "code": "110123", "display": "Logout"}],
        "E",
    ),
    SecurityEventKind.TOKEN_ISSUED: (_USER_AUTHENTICATION, [_GET_ACCESS_TOKEN], "E"),
    SecurityEventKind.TOKEN_REFRESHED: (
        _USER_AUTHENTICATION,
        [_GET_ACCESS_TOKEN, {"system": SERVER_CODES, "code": "token-refresh", "display": "Token refresh"}],
        "E",
    ),
    SecurityEventKind.TOKEN_REVOKED: (
        _SECURITY_ALERT,
        [{"system": SERVER_CODES, "code": "token-revocation", "display": "Token revocation"}],
        "E",
    ),
    SecurityEventKind.ACCOUNT_CHANGED: (
        _SECURITY_ALERT,
        [{"system": DICOM, "code": "110137", "display": "User Security Attributes Changed"}],
        "U",
    ),
    SecurityEventKind.ROLE_CHANGED: (
        _SECURITY_ALERT,
        [{"system": DICOM, "code": "110136", "display": "Security Roles Changed"}],
        "U",
    ),
    SecurityEventKind.CLIENT_CHANGED: (
        _SECURITY_ALERT,
        [{"system": SERVER_CODES, "code": "client-change", "display": "OAuth client changed"}],
        "U",
    ),
    SecurityEventKind.AUDIT_EXPORTED: (
        _EXPORT,
        [{"system": SERVER_CODES, "code": "audit-export", "display": "Audit log export"}],
        "E",
    ),
    SecurityEventKind.AUDIT_EXPIRED: (
        _SECURITY_ALERT,
        [{"system": SERVER_CODES, "code": "audit-expiry", "display": "Audit log retention"}],
        "D",
    ),
}
