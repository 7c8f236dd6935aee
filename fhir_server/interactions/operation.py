"""``$operations``: how one is declared (its OperationDefinition beside its handler) and invoked.

Operations are transport-neutral: a handler receives an :class:`OperationCall` (the call, its input
as a Parameters resource, the services) and returns an :class:`Outcome`, a resource, or a
``WriteResult``; it never sees HTTP. Each module of ``fhir_server.operations`` that defines a
module-level ``OPERATIONS: list[OperationSpec]`` is discovered when the app is assembled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir_server.context import Interaction, RequestContext
from fhir_server.interactions.call import Call, RawBody
from fhir_server.interactions.outcome import Outcome
from fhir_server.services import Services
from fhir_server.store.repository import Session, WriteResult


class Level(StrEnum):
    SYSTEM = "system"
    TYPE = "type"
    INSTANCE = "instance"


@dataclass(frozen=True)
class OperationCall:
    """One invocation. ``parameters`` is a FHIR Parameters resource built from the query string
    (GET, form POST) or the JSON body; ``body`` is the JSON body when it was not a Parameters
    resource (e.g. a resource POSTed to $validate); ``raw`` the unread body of an operation that
    takes one (``raw_body=True``: multipart uploads)."""

    call: Call
    services: Services
    parameters: dict[str, Any]
    body: dict[str, Any] | None = None
    raw: RawBody | None = None

    @property
    def ctx(self) -> RequestContext:
        return self.call.ctx

    @property
    def resource_type(self) -> str | None:
        return self.call.resource_type

    @property
    def resource_id(self) -> str | None:
        return self.call.resource_id

    @property
    def session(self) -> Session | None:
        return self.call.session


OperationResult = Outcome | WriteResult | dict[str, Any]
Handler = Callable[[OperationCall], Awaitable[OperationResult]]


@dataclass(frozen=True)
class OperationSpec:
    name: str  # without the "$"
    definition: dict[str, Any]  # the OperationDefinition resource advertised in /metadata
    levels: frozenset[Level]
    handler: Handler
    resource_types: tuple[str, ...] | None = None  # None: every type
    affects_state: bool = False  # True: GET is refused (405), POST only
    raw_body: bool = False  # True: the body is left unread for the handler (multipart, binary)
    # What the caller must be allowed on the type (the gate's coarse check) before the handler
    # runs; the handler checks each resource it touches like any interaction does.
    interaction: Interaction = Interaction.OPERATION
    administrative: bool = False  # True: administrators only ($reindex ...)
    # More OperationDefinitions under the same name, for other levels or types (Bulk Data's
    # $export has one for the system, one for Patient, one for Group); see ``definition_for``.
    variants: tuple[dict[str, Any], ...] = ()
    instantiates: tuple[str, ...] = ()  # CapabilityStatements offering this operation implements

    def definition_for(self, resource_type: str | None) -> dict[str, Any]:
        """The definition declared for the system level (None) or for a resource type."""
        definitions = (self.definition, *self.variants)
        if resource_type is None:
            return next((d for d in definitions if d.get("system")), self.definition)
        return next((d for d in definitions if resource_type in d.get("resource", ())), self.definition)


def as_outcome(result: OperationResult) -> Outcome:
    if isinstance(result, Outcome):
        return result
    if isinstance(result, WriteResult):
        return Outcome.written(result)
    return Outcome.ok(result)
