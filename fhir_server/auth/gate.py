"""``ScopeGate``: the SMART-scope policy every interaction asks (``fhir_server.access.AccessGate``).

For each resource type and permission letter the caller's scopes yield *grants*; a grant is either
confined to the caller's patient compartment (``patient/`` scopes) or not (``user/``, ``system/``),
and may carry a granular query (``?category=laboratory``) the resource must match. The caller may
act when any grant allows it.

Where a type has both ``user``/``system`` grants and ``patient`` grants, only the former are used: the
union of the two cannot be written as one ``SearchConstraint``, and the former alone never allow
more than the caller holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from fhir_server.access import ParamSet, SearchConstraint
from fhir_server.auth.facts import IndexerFacts, ResourceFacts
from fhir_server.auth.scopes import (
    ALL_PERMISSIONS,
    PERMISSION_ORDER,
    ClinicalScope,
    QueryParams,
    ScopeContext,
    parse_scopes_leniently,
)
from fhir_server.context import Interaction, Principal, RequestContext
from fhir_server.errors import Forbidden

# The permission letter each interaction needs. Operations and batches are checked per entry.
INTERACTION_PERMISSION: Final[dict[Interaction, str]] = {
    Interaction.READ: "r",
    Interaction.VREAD: "r",
    Interaction.HISTORY_INSTANCE: "r",
    Interaction.HISTORY_TYPE: "s",
    Interaction.HISTORY_SYSTEM: "s",
    Interaction.SEARCH_TYPE: "s",
    Interaction.SEARCH_SYSTEM: "s",
    Interaction.CREATE: "c",
    Interaction.UPDATE: "u",
    Interaction.PATCH: "u",
    Interaction.DELETE: "d",
    Interaction.OPERATION: "r",
}
# Interactions whose entries each pass the gate again: here only "holds some clinical scope".
PER_ENTRY_INTERACTIONS: Final = frozenset({Interaction.BATCH, Interaction.TRANSACTION})
VISIBLE_PERMISSIONS: Final = ("r", "s")  # a resource may leave the server if it could be read or found


@dataclass(frozen=True)
class Grant:
    compartment: str | None  # "Patient/123" for a patient-context grant
    query: QueryParams


@lru_cache(maxsize=1024)
def _clinical_scopes(scopes: frozenset[str]) -> tuple[ClinicalScope, ...]:
    return parse_scopes_leniently(sorted(scopes))


def patient_of(principal: Principal) -> str | None:
    """The patient a ``patient/`` scope confines to: the launch context, else a Patient fhirUser."""
    if principal.patient:
        return principal.patient
    if principal.fhir_user and principal.fhir_user.startswith("Patient/"):
        return principal.fhir_user.removeprefix("Patient/")
    return None


def grants(principal: Principal, resource_type: str, permission: str) -> list[Grant]:
    """What the caller's scopes allow for one type and permission letter (empty: nothing)."""
    patient = patient_of(principal)
    broad: list[Grant] = []
    confined: list[Grant] = []
    for scope in _clinical_scopes(principal.scopes):
        if permission not in scope.permissions or not scope.applies_to(resource_type):
            continue
        if scope.context is ScopeContext.PATIENT:
            if patient is not None:
                confined.append(Grant(f"Patient/{patient}", scope.query))
        else:
            broad.append(Grant(None, scope.query))
    return broad or confined


def _has_any_clinical_scope(principal: Principal, permission: str | None = None) -> bool:
    return any(
        permission is None or permission in scope.permissions
        for scope in _clinical_scopes(principal.scopes)
        if scope.context is not ScopeContext.PATIENT or patient_of(principal) is not None
    )


class ScopeGate:
    """SMART scopes + patient compartment + granular queries, for every interaction."""

    def __init__(self, facts: ResourceFacts | None = None) -> None:
        self._facts = facts

    @property
    def facts(self) -> ResourceFacts:
        if self._facts is None:
            self._facts = IndexerFacts()
        return self._facts

    def require(self, ctx: RequestContext, interaction: Interaction, resource_type: str | None) -> None:
        """Raise ``Forbidden`` (403) when no scope allows this interaction on this type at all.

        Passing here and failing ``can_see`` afterwards means "exists, but not for you": answer 404.
        """
        principal = ctx.principal
        if interaction in PER_ENTRY_INTERACTIONS or resource_type is None:
            permission = INTERACTION_PERMISSION.get(interaction)
            if not _has_any_clinical_scope(principal, permission):
                raise Forbidden(f"the granted scopes do not permit {interaction}")
            return
        permission = INTERACTION_PERMISSION[interaction]
        if not grants(principal, resource_type, permission):
            raise Forbidden(f"the granted scopes do not permit {interaction} on {resource_type}")

    def can_see(self, ctx: RequestContext, resource: dict[str, Any]) -> bool:
        resource_type = str(resource.get("resourceType", ""))
        return any(
            self._allows(grant, resource)
            for permission in VISIBLE_PERMISSIONS
            for grant in grants(ctx.principal, resource_type, permission)
        )

    def check_write(self, ctx: RequestContext, interaction: Interaction, resource: dict[str, Any]) -> None:
        """Raise ``Forbidden`` unless a scope allows writing this content.

        For update and delete, also check ``can_see`` on the current version (404 when false).
        """
        resource_type = str(resource.get("resourceType", ""))
        permission = INTERACTION_PERMISSION[interaction]
        if not any(
            self._allows(grant, resource) for grant in grants(ctx.principal, resource_type, permission)
        ):
            raise Forbidden(f"the granted scopes do not permit {interaction} of this {resource_type}")

    def search_constraint(self, ctx: RequestContext, resource_type: str) -> SearchConstraint:
        found = grants(ctx.principal, resource_type, "s")
        if not found:
            raise Forbidden(f"the granted scopes do not permit searching {resource_type}")
        compartment = found[0].compartment  # all grants share one compartment (or none)
        if any(not grant.query for grant in found):
            return SearchConstraint(compartment=compartment)
        alternatives: list[ParamSet] = [list(grant.query) for grant in _distinct(found)]
        return SearchConstraint(compartment=compartment, alternatives=alternatives)

    def sees_everything(self, ctx: RequestContext, resource_type: str) -> bool:
        return any(
            grant.compartment is None and not grant.query
            for grant in grants(ctx.principal, resource_type, "r")
        )

    def confinement(self, ctx: RequestContext, resource_type: str) -> str | None:
        found = [
            grant
            for permission in PERMISSION_ORDER
            for grant in grants(ctx.principal, resource_type, permission)
        ]
        if found and all(grant.compartment is not None for grant in found):
            return found[0].compartment  # patient grants all name the caller's one patient
        return None

    def is_administrator(self, ctx: RequestContext) -> bool:
        """Administrators hold every permission on every type, unconfined: ``user/*.cruds`` (the
        admin role) or ``system/*.cruds`` (a backend service trusted with the whole server)."""
        return any(
            scope.context is not ScopeContext.PATIENT
            and scope.wildcard
            and scope.permissions == ALL_PERMISSIONS
            and not scope.query
            for scope in _clinical_scopes(ctx.principal.scopes)
        )

    def _allows(self, grant: Grant, resource: dict[str, Any]) -> bool:
        if grant.compartment is not None and not self._in_compartment(grant.compartment, resource):
            return False
        return all(self.facts.matches(resource, name, value) for name, value in grant.query)

    def _in_compartment(self, compartment: str, resource: dict[str, Any]) -> bool:
        if f"{resource.get('resourceType')}/{resource.get('id')}" == compartment:
            return True  # the patient itself
        return compartment in self.facts.compartments(resource)


def _distinct(found: Iterable[Grant]) -> list[Grant]:
    return list(dict.fromkeys(found))
