"""``ScopeGate``: the SMART-scope policy every interaction asks (``fhir_server.access.AccessGate``).

For each resource type and permission letter the caller's scopes yield *grants*; a grant is either
confined to the caller's patient compartment (``patient/`` scopes) or not (``user/``, ``system/``),
and may carry a granular query (``?category=laboratory``) the resource must match. The caller may
act when any grant allows it.

Where a type has both ``user``/``system`` grants and ``patient`` grants, only the former are used: the
union of the two cannot be written as one ``SearchConstraint``, and the former alone never allow
more than the caller holds.

A clinic role (``Principal.role``) adds element rules (``roles.ElementRule``): ``redact`` filters what
leaves, ``preserve_hidden`` keeps what the role cannot see when it writes, and ``check_search``
refuses searches, sorts and includes by hidden elements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from fhir_server.access import ParamSet, SearchConstraint
from fhir_server.auth import elements
from fhir_server.auth.facts import IndexerFacts, ResourceFacts
from fhir_server.auth.roles import ROLES
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
        self._hidden_cache: dict[tuple[str, str, int], frozenset[str]] = {}

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

    # ----- element rules of the caller's role ---------------------------------------------------

    def redact(self, ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
        """What of ``resource`` may leave for this caller: the resource itself, or a copy without
        the elements the caller's role may not see (labelled ``REDACTED``)."""
        role = ctx.principal.role
        if role is None:
            return resource
        rule = elements.rule_for(role, str(resource.get("resourceType", "")))
        return elements.redact(rule, resource, self._reader(ctx), role)

    def preserve_hidden(
        self, ctx: RequestContext, previous: dict[str, Any] | None, incoming: dict[str, Any]
    ) -> dict[str, Any]:
        """The version to store when this caller writes ``incoming`` over ``previous`` (None on
        create): elements the caller's role cannot see keep their stored values (or stay absent)."""
        role = ctx.principal.role
        if role is None:
            return incoming
        rule = elements.rule_for(role, str(incoming.get("resourceType", "")))
        return elements.preserve_hidden(rule, previous, incoming, self._reader(ctx))

    def check_search(self, ctx: RequestContext, resource_type: str, params: list[tuple[str, str]]) -> None:
        """Raise ``Forbidden`` when a search would match, sort or include by an element the caller's
        role may not see (``Encounter?reason-code=...``, ``_sort=reason-code``, chains and ``_has``
        into hidden elements, ``_text``/``_content``)."""
        role = ctx.principal.role
        if role is None or role not in _ROLES_WITH_RULES:
            return
        for name, value in params:
            refused = self._refused_param(role, resource_type, name, value)
            if refused is not None:
                raise Forbidden(
                    f"the {role} role may not search {refused[0]} by {refused[1]}: it reads elements "
                    "hidden from this role",
                    expression=(name,),
                )

    def _refused_param(self, role: str, resource_type: str, name: str, value: str) -> tuple[str, str] | None:
        if name in ("_sort",):
            for key in value.split(","):
                if self._hidden(role, resource_type, key.strip().lstrip("-")):
                    return resource_type, key.strip().lstrip("-")
            return None
        if name in ("_include", "_revinclude"):
            parts = value.split(":")
            if len(parts) >= 2 and self._hidden(role, parts[0], parts[1]):
                return parts[0], parts[1]
            return None
        if name.startswith("_has:"):
            return self._refused_has(role, name.split(":")[1:])
        head, _, rest = name.partition(".")
        code, _, modifier = head.partition(":")
        if self._hidden(role, resource_type, code):
            return resource_type, code
        if rest:
            for target in self._chain_targets(resource_type, code, modifier):
                found = self._refused_param(role, target, rest, value)
                if found is not None:
                    return found
        return None

    def _refused_has(self, role: str, parts: list[str]) -> tuple[str, str] | None:
        # _has:Type:reference:param[=...] or nested _has:Type:reference:_has:...
        if len(parts) < 3:
            return None
        resource_type, reference = parts[0], parts[1]
        if self._hidden(role, resource_type, reference):
            return resource_type, reference
        remainder = parts[2:]
        if remainder[0] == "_has":
            return self._refused_has(role, remainder[1:])
        code = remainder[0].partition(".")[0]
        return (resource_type, code) if self._hidden(role, resource_type, code) else None

    def _chain_targets(self, resource_type: str, code: str, modifier: str) -> list[str]:
        if modifier and modifier[:1].isupper():
            return [modifier]
        param = self.facts.registry.search_parameter(resource_type, code)
        return list(param.targets) if param is not None else []

    def _hidden(self, role: str, resource_type: str, code: str) -> bool:
        registry = self.facts.registry
        key = (role, resource_type, registry.version)
        hidden = self._hidden_cache.get(key)
        if hidden is None:
            hidden = elements.hidden_search_params(registry, role, resource_type)
            self._hidden_cache[key] = hidden
        return code in hidden

    def _reader(self, ctx: RequestContext) -> elements.CanRead:
        principal = ctx.principal

        def can_read(resource_type: str) -> bool:
            return bool(grants(principal, resource_type, "r"))

        return can_read

    def _allows(self, grant: Grant, resource: dict[str, Any]) -> bool:
        if grant.compartment is not None and not self._in_compartment(grant.compartment, resource):
            return False
        return all(self.facts.matches(resource, name, value) for name, value in grant.query)

    def _in_compartment(self, compartment: str, resource: dict[str, Any]) -> bool:
        if f"{resource.get('resourceType')}/{resource.get('id')}" == compartment:
            return True  # the patient itself
        return compartment in self.facts.compartments(resource)


_ROLES_WITH_RULES: Final = frozenset(name for name, role in ROLES.items() if role.elements)


def _distinct(found: Iterable[Grant]) -> list[Grant]:
    return list(dict.fromkeys(found))
