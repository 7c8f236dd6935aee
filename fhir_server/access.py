"""The one policy gate every resource passes, in and out.

The interaction layer asks the gate before and after touching storage; ``fhir_server.auth``
provides the SMART-scope implementation, ``AllowAll`` serves when authorization is disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fhir_server.context import Interaction, RequestContext

# A search constraint: alternatives (OR) of parameter sets (AND), each a list of (name, value)
# pairs in FHIR search syntax, e.g. [[("patient", "Patient/1")]] or
# [[("subject", "Patient/1"), ("category", "laboratory")], [("performer", "Patient/1")]].
ParamSet = list[tuple[str, str]]


@dataclass(frozen=True)
class SearchConstraint:
    """What a caller may see of one resource type: ``None`` fields mean unrestricted."""

    compartment: str | None = None  # "Patient/123": only members of that compartment
    alternatives: list[ParamSet] | None = None  # OR of AND-ed parameter sets (granular scopes)


class AccessGate(Protocol):
    def require(self, ctx: RequestContext, interaction: Interaction, resource_type: str | None) -> None:
        """Raise ``Forbidden`` unless the caller may perform this interaction on this type at all."""

    def can_see(self, ctx: RequestContext, resource: dict[str, Any]) -> bool:
        """May this resource leave the server for this caller (reads, search results, includes ...)?"""

    def check_write(self, ctx: RequestContext, interaction: Interaction, resource: dict[str, Any]) -> None:
        """Raise ``Forbidden`` unless the caller may write this content (compartment, granular scope)."""

    def search_constraint(self, ctx: RequestContext, resource_type: str) -> SearchConstraint:
        """Constraints AND-ed into every search of this type for this caller."""

    def sees_everything(self, ctx: RequestContext, resource_type: str) -> bool:
        """May the caller read every resource of this type (no compartment, no granular query)?"""

    def confinement(self, ctx: RequestContext, resource_type: str) -> str | None:
        """The patient compartment ("Patient/123") the caller's access to this type is confined
        to, or None when it is not confined to one patient."""

    def is_administrator(self, ctx: RequestContext) -> bool:
        """May the caller run administrative operations ($reindex, conformance writes ...)?"""

    def redact(self, ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
        """What of this resource may leave for the caller: itself, or a copy without the elements
        the caller's role may not see."""

    def preserve_hidden(
        self, ctx: RequestContext, previous: dict[str, Any] | None, incoming: dict[str, Any]
    ) -> dict[str, Any]:
        """What to store when the caller writes ``incoming`` over ``previous`` (None on create):
        elements the caller may not see keep their stored values."""

    def check_search(self, ctx: RequestContext, resource_type: str, params: list[tuple[str, str]]) -> None:
        """Raise ``Forbidden`` when a search would match, sort or include by an element the caller
        may not see."""


class AllowAll:
    """The gate when authorization is disabled: everything is allowed."""

    def require(self, ctx: RequestContext, interaction: Interaction, resource_type: str | None) -> None:
        return None

    def can_see(self, ctx: RequestContext, resource: dict[str, Any]) -> bool:
        return True

    def check_write(self, ctx: RequestContext, interaction: Interaction, resource: dict[str, Any]) -> None:
        return None

    def search_constraint(self, ctx: RequestContext, resource_type: str) -> SearchConstraint:
        return SearchConstraint()

    def sees_everything(self, ctx: RequestContext, resource_type: str) -> bool:
        return True

    def confinement(self, ctx: RequestContext, resource_type: str) -> str | None:
        return None

    def is_administrator(self, ctx: RequestContext) -> bool:
        return True

    def redact(self, ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
        return resource

    def preserve_hidden(
        self, ctx: RequestContext, previous: dict[str, Any] | None, incoming: dict[str, Any]
    ) -> dict[str, Any]:
        return incoming

    def check_search(self, ctx: RequestContext, resource_type: str, params: list[tuple[str, str]]) -> None:
        return None
