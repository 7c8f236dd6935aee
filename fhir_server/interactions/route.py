"""A row of the dispatch table: which interaction a (method, target shape) is, its handler, and
what body the adapter reads for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from fhir_server.context import Interaction
from fhir_server.interactions.call import Call
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.target import Shape

if TYPE_CHECKING:
    from fhir_server.interactions.pipeline import Pipeline

Handler = Callable[[Call, "Pipeline"], Awaitable[Outcome]]


class BodyKind(StrEnum):
    """What an adapter reads off the request for a route (bundle entries bring JSON already)."""

    NONE = "none"  # no body
    RESOURCE = "resource"  # a FHIR JSON resource
    RESOURCE_OR_RAW = "resource-or-raw"  # FHIR JSON, or raw content streamed (Binary)
    PATCH = "patch"  # JSON Patch, FHIRPath Patch or a merge patch
    FORM = "form"  # form-encoded search parameters (POST _search)
    BUNDLE = "bundle"  # a batch or transaction Bundle (its own size limit)
    OPERATION = "operation"  # Parameters, a resource, a form or raw, as the operation declares


@dataclass(frozen=True)
class Route:
    method: str
    shape: Shape
    interaction: Interaction
    handler: Handler
    body: BodyKind = BodyKind.NONE
    resource_type: str | None = None  # a row for one type only (overrides the generic row)
    public: bool = False  # served without a token (the CapabilityStatement)
    in_transaction: bool = True  # may appear as an entry of a transaction Bundle

    @property
    def key(self) -> tuple[str, Shape, str | None]:
        return (self.method, self.shape, self.resource_type)
