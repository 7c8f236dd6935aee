"""Provenance: the server's record of every write, and the client's own (``X-Provenance``).

The server's Provenance names the written version (``target`` = ``Type/id/_history/n``, so it joins
a ``_history`` entry by version), when (``recorded``), the activity (CREATE, UPDATE, DELETE) and
who: the person (``author``: ``fhirUser``, else the token's subject) and the client app
(``performer``). A write the server's rules made for the caller (a Slot turning busy) names the
caller as author and the server as performer.

A client may send its own Provenance with a write or a transaction, in the ``X-Provenance`` header
(FHIR RESTful API, "Provenance"). It is checked like any resource (structure, profile), its
``target`` and ``recorded`` are filled in by the server (every version the request wrote), and it
is stored in the same transaction as the writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson

from fhir_server.audit import vocabulary as v
from fhir_server.audit.events import Caller, Server
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest
from fhir_server.store.repository import instant, new_id

JsonDict = dict[str, Any]
X_PROVENANCE: Final = "X-Provenance"
_CLIENT_KEY: Final = "fhir_server.audit.x-provenance"


def _participant(code: str) -> JsonDict:
    return {"coding": [{"system": v.PROVENANCE_PARTICIPANT, "code": code}]}


def server_provenance(
    *, target: str, method: str, recorded: datetime, caller: Caller, server: Server, consequence: bool
) -> JsonDict:
    moment = instant(recorded)
    agents: list[JsonDict] = []
    if caller.has_person:
        agents.append({"type": _participant("author"), "who": caller.person()})
    app: JsonDict = {
        "type": _participant("performer" if not consequence else "informant"),
        "who": caller.app(),
    }
    agents.append(app)
    if consequence:
        agents.append({"type": _participant("performer"), "who": server.reference()})
    return {
        "resourceType": "Provenance",
        "id": new_id(),
        "meta": {"versionId": "1", "lastUpdated": moment},
        "target": [{"reference": target}],
        "recorded": moment,
        "activity": {"coding": [{"system": v.DATA_OPERATION, "code": v.DATA_OPERATIONS[method]}]},
        "agent": agents,
    }


def attach_client_provenance(ctx: RequestContext, header: str | None, body: Any = None) -> None:
    """Read ``X-Provenance`` off a request (REST adapter) for the writes it makes; 400 when it is
    not a Provenance resource in JSON, or comes with a batch (whose entries commit one by one)."""
    if header is None or not header.strip():
        return
    try:
        resource = orjson.loads(header)
    except orjson.JSONDecodeError:
        raise BadRequest("X-Provenance must be a Provenance resource in JSON", (X_PROVENANCE,)) from None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Provenance":
        raise BadRequest("X-Provenance must be a Provenance resource in JSON", (X_PROVENANCE,))
    if isinstance(body, dict) and body.get("resourceType") == "Bundle" and body.get("type") == "batch":
        raise BadRequest(
            "X-Provenance goes with a write or a transaction; a batch's entries commit one by one",
            (X_PROVENANCE,),
        )
    ctx.scratch[_CLIENT_KEY] = ClientProvenance(resource)


class ClientProvenance:
    """A client's Provenance for the writes of one request: checked once, stored once."""

    def __init__(self, resource: JsonDict) -> None:
        self.resource = resource
        self.id = new_id()
        self.checked = False

    def stored_form(self, recorded: datetime) -> JsonDict:
        """The resource as stored (targets are added per write): server id, meta and ``recorded``."""
        moment = instant(recorded)
        body = {key: value for key, value in self.resource.items() if key not in ("id", "meta", "target")}
        return {
            **body,
            "resourceType": "Provenance",
            "id": self.id,
            "meta": {"versionId": "1", "lastUpdated": moment},
            "recorded": moment,
        }


def client_provenance(ctx: RequestContext) -> ClientProvenance | None:
    found = ctx.scratch.get(_CLIENT_KEY)
    return found if isinstance(found, ClientProvenance) else None
