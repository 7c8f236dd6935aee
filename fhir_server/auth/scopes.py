"""SMART on FHIR scopes: parsing (v1 and v2, granular), validation and narrowing.

A clinical scope is ``<context>/<type>.<permissions>[?<query>]``:

- context: ``patient``, ``user`` or ``system``;
- type: a resource type or ``*``;
- permissions: v1 ``read`` (= ``rs``), ``write`` (= ``cud``), ``*`` (= ``cruds``), or v2 letters from
  ``cruds`` in that order (``rs``, ``cu``, ``cruds`` ...);
- query (v2 only): ``name=value`` pairs joined by ``&`` that a resource must match (granular scopes,
  e.g. ``patient/Observation.rs?category=laboratory``).

Other scopes (``openid``, ``fhirUser``, ``launch`` ...) are *launch scopes*: they ask for context or
identity, never for data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.util import scope_to_list


class ScopeContext(StrEnum):
    PATIENT = "patient"
    USER = "user"
    SYSTEM = "system"


# Permission letters in their only valid order.
PERMISSION_ORDER: Final = "cruds"
ALL_PERMISSIONS: Final = frozenset(PERMISSION_ORDER)
V1_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "read": frozenset("rs"),
    "write": frozenset("cud"),
    "*": ALL_PERMISSIONS,
}
WILDCARD_TYPE: Final = "*"

LAUNCH_SCOPES: Final = frozenset(
    {
        "openid",
        "fhirUser",
        "profile",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "online_access",
    }
)

# Scopes of this server itself (not SMART): granted only to clients registered with them, and at
# sign-in only to users whose role holds them (``roles.Role.server_scopes``).
ADMIN_SCOPE: Final = "admin"
SERVER_SCOPES: Final = frozenset({ADMIN_SCOPE})

_CLINICAL = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{1,63})\."
    r"(?P<perms>read|write|\*|c?r?u?d?s?)(?:\?(?P<query>.+))?$"
)
_QUERY_NAME = re.compile(r"^[a-z_][A-Za-z0-9_\-.:]*$")

QueryParams = tuple[tuple[str, str], ...]


class ScopeSyntaxError(ValueError):
    """A scope string that is neither a launch scope nor a well-formed clinical scope."""


@dataclass(frozen=True)
class ClinicalScope:
    """One parsed clinical scope."""

    context: ScopeContext
    resource_type: str  # a resource type or "*"
    permissions: frozenset[str]
    query: QueryParams = ()
    text: str = ""  # the scope as written

    @property
    def wildcard(self) -> bool:
        return self.resource_type == WILDCARD_TYPE

    def applies_to(self, resource_type: str) -> bool:
        return self.wildcard or self.resource_type == resource_type

    def to_v2(self) -> str:
        letters = "".join(p for p in PERMISSION_ORDER if p in self.permissions)
        text = f"{self.context}/{self.resource_type}.{letters}"
        if self.query:
            text += "?" + "&".join(f"{name}={value}" for name, value in self.query)
        return text


def parse_clinical_scope(text: str) -> ClinicalScope | None:
    """Parse a clinical scope; ``None`` for a launch or server scope; raise ``ScopeSyntaxError`` otherwise."""
    if text in LAUNCH_SCOPES or text in SERVER_SCOPES:
        return None
    match = _CLINICAL.match(text)
    if match is None or not match["perms"]:
        raise ScopeSyntaxError(f"not a valid SMART scope: {text!r}")
    perms_text = match["perms"]
    v1 = perms_text in V1_PERMISSIONS
    permissions = V1_PERMISSIONS[perms_text] if v1 else frozenset(perms_text)
    query = _parse_query(match["query"], text) if match["query"] else ()
    if query and v1:
        raise ScopeSyntaxError(f"query parameters need v2 permissions (e.g. .rs): {text!r}")
    return ClinicalScope(
        context=ScopeContext(match["context"]),
        resource_type=match["type"],
        permissions=permissions,
        query=query,
        text=text,
    )


def _parse_query(query: str, text: str) -> QueryParams:
    try:
        pairs = parse_qsl(query, keep_blank_values=False, strict_parsing=True)
    except ValueError as error:
        raise ScopeSyntaxError(f"malformed query in scope {text!r}") from error
    for name, _value in pairs:
        if not _QUERY_NAME.match(name):
            raise ScopeSyntaxError(f"malformed query parameter name in scope {text!r}")
    return tuple(sorted(pairs))


def split_scope(scope: str | None) -> list[str]:
    """Split a space-separated scope string, dropping duplicates but keeping order."""
    seen: dict[str, None] = {}
    for item in scope_to_list(scope or "") or []:
        seen.setdefault(item, None)
    return list(seen)


@dataclass(frozen=True)
class ParsedScopes:
    """A scope string split into launch scopes and clinical scopes."""

    launch: frozenset[str]
    clinical: tuple[ClinicalScope, ...]

    @property
    def texts(self) -> list[str]:
        return [*sorted(self.launch), *(scope.text for scope in self.clinical)]


def parse_scopes(scopes: Iterable[str]) -> ParsedScopes:
    """Parse every scope; raise ``ScopeSyntaxError`` on the first malformed one."""
    launch: set[str] = set()
    clinical: list[ClinicalScope] = []
    for text in scopes:
        parsed = parse_clinical_scope(text)
        if parsed is None:
            launch.add(text)
        else:
            clinical.append(parsed)
    return ParsedScopes(launch=frozenset(launch), clinical=tuple(clinical))


def parse_scopes_leniently(scopes: Iterable[str]) -> tuple[ClinicalScope, ...]:
    """Clinical scopes of a token, skipping what does not parse (an external issuer's own scopes)."""
    parsed: list[ClinicalScope] = []
    for text in scopes:
        try:
            scope = parse_clinical_scope(text)
        except ScopeSyntaxError:
            continue
        if scope is not None:
            parsed.append(scope)
    return tuple(parsed)


# --- narrowing: what part of a requested scope may be granted -------------------------------------

_CONTEXT_COVERS: Final[dict[ScopeContext, frozenset[ScopeContext]]] = {
    # A user-level permission covers the same permission confined to one patient.
    ScopeContext.USER: frozenset({ScopeContext.USER, ScopeContext.PATIENT}),
    ScopeContext.PATIENT: frozenset({ScopeContext.PATIENT}),
    ScopeContext.SYSTEM: frozenset({ScopeContext.SYSTEM}),
}


def _intersect(requested: ClinicalScope, allowed: ClinicalScope) -> ClinicalScope | None:
    """The largest scope within both, in the requested context; None if they share nothing."""
    if requested.context not in _CONTEXT_COVERS[allowed.context]:
        return None
    if not (allowed.wildcard or requested.wildcard or allowed.resource_type == requested.resource_type):
        return None
    permissions = requested.permissions & allowed.permissions
    if not permissions:
        return None
    resource_type = requested.resource_type if allowed.wildcard else allowed.resource_type
    query = tuple(sorted(set(requested.query) | set(allowed.query)))
    return ClinicalScope(requested.context, resource_type, permissions, query)


def covers(wide: ClinicalScope, narrow: ClinicalScope) -> bool:
    """Does ``wide`` allow everything ``narrow`` allows?"""
    return (
        narrow.context in _CONTEXT_COVERS[wide.context]
        and (wide.wildcard or wide.resource_type == narrow.resource_type)
        and narrow.permissions <= wide.permissions
        and set(wide.query) <= set(narrow.query)
    )


def narrow_scopes(requested: Iterable[ClinicalScope], allowed: Iterable[ClinicalScope]) -> list[str]:
    """The clinical scopes to grant: each requested scope kept as written when ``allowed`` covers it,
    otherwise cut down to its intersections with the allowed scopes (written in v2 syntax)."""
    allowed = tuple(allowed)
    granted: list[ClinicalScope] = []
    for scope in requested:
        if any(covers(limit, scope) for limit in allowed):
            granted.append(scope)
            continue
        for limit in allowed:
            piece = _intersect(scope, limit)
            if piece is not None:
                granted.append(piece)
    return _without_subsumed(granted)


def _without_subsumed(scopes: list[ClinicalScope]) -> list[str]:
    """Drop scopes another one covers (of two equal ones, the later)."""
    kept = [
        scope
        for index, scope in enumerate(scopes)
        if not any(
            covers(other, scope) and (not covers(scope, other) or other_index < index)
            for other_index, other in enumerate(scopes)
            if other_index != index
        )
    ]
    texts: dict[str, None] = {}
    for scope in kept:
        texts.setdefault(scope.text or scope.to_v2(), None)
    return list(texts)
