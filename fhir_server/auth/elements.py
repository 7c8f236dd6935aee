"""Element rules of a role (``roles.ElementRule``) applied to resources and searches.

- ``redact``: the copy of a resource a role may see (identity when nothing is hidden), marked with
  the ``REDACTED`` security label;
- ``preserve_hidden``: an incoming version whose hidden elements are the stored ones, so an update by
  a role that cannot see an element neither erases nor sets it;
- ``hidden_search_params``: search parameters whose expression reads a hidden element, which the
  gate refuses (a search by ``reason-code`` would reveal reasons by what it finds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from fhir_server.auth.roles import ROLES, ElementRule
from fhir_server.conformance.registry import ConformanceRegistry, narrow_expression, split_union

REDACTED_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
REDACTED_CODE: Final = "REDACTED"
REDACTED_LABEL: Final = {"system": REDACTED_SYSTEM, "code": REDACTED_CODE}
# Elements every resource keeps, whatever ``shown`` says: without them it is not a resource, and a
# modifier extension changes the meaning of the rest (dropping one would mislead).
ALWAYS_SHOWN: Final = frozenset(
    {"resourceType", "id", "meta", "implicitRules", "language", "modifierExtension"}
)
NARRATIVE: Final = "text"
CONTAINED: Final = "contained"
# Searches over the whole text or narrative reach every element.
TEXT_SEARCH_PARAMS: Final = frozenset({"_text", "_content"})
_ELEMENT_AFTER_TYPE = r"(?<![A-Za-z0-9_.]){type}\.([a-zA-Z][A-Za-z0-9]*)"

Json = dict[str, Any]
CanRead = Callable[[str], bool]


def rule_for(role: str | None, resource_type: str) -> ElementRule | None:
    found = ROLES.get(role) if role else None
    return found.elements.get(resource_type) if found else None


def hides(rule: ElementRule, element: str) -> bool:
    """Does the rule keep ``element`` (a top-level element name) from the role?"""
    if element in ALWAYS_SHOWN:
        return False
    if element in (NARRATIVE, CONTAINED):
        return True  # decided separately: narrative always goes, contained resources by type
    if rule.shown is not None:
        return element not in rule.shown
    return element in rule.hidden


def redact(rule: ElementRule | None, resource: Json, can_read: CanRead, role: str | None) -> Json:
    """The role's view of ``resource``; the resource itself when nothing of it is hidden."""
    contained = resource.get(CONTAINED)
    if rule is None and not contained:
        return resource
    if rule is None:
        kept_contained = _visible_contained(contained, can_read, role)
        if kept_contained == contained:
            return resource
        view = dict(resource)
        _set_or_drop(view, CONTAINED, kept_contained)
        return _labelled(view)
    view = {name: value for name, value in resource.items() if not hides(rule, name) or name == CONTAINED}
    if contained:
        _set_or_drop(view, CONTAINED, _visible_contained(contained, can_read, role))
    return _labelled(view) if view != resource else resource


def _visible_contained(contained: Any, can_read: CanRead, role: str | None) -> list[Json]:
    if not isinstance(contained, list):
        return []
    kept = []
    for item in contained:
        if isinstance(item, dict) and can_read(str(item.get("resourceType"))):
            kept.append(redact(rule_for(role, str(item.get("resourceType"))), item, can_read, role))
    return kept


def _set_or_drop(target: Json, name: str, value: list[Json]) -> None:
    if value:
        target[name] = value
    else:
        target.pop(name, None)


def _labelled(view: Json) -> Json:
    meta = dict(view.get("meta") or {})
    labels = [label for label in meta.get("security") or [] if not _is_redacted_label(label)]
    meta["security"] = [*labels, dict(REDACTED_LABEL)]
    view["meta"] = meta
    return view


def _is_redacted_label(label: Any) -> bool:
    return (
        isinstance(label, dict)
        and label.get("system") == REDACTED_SYSTEM
        and label.get("code") == REDACTED_CODE
    )


def preserve_hidden(
    rule: ElementRule | None, previous: Json | None, incoming: Json, can_read: CanRead
) -> Json:
    """``incoming`` with the hidden elements of ``previous`` (None on create: hidden ones dropped).

    The ``REDACTED`` label a redacted read carried is removed, unless the stored version had it.
    """
    if rule is None and not incoming.get(CONTAINED) and not (previous or {}).get(CONTAINED):
        return incoming
    before = previous or {}
    result = dict(incoming)
    if rule is not None:
        for name in {*incoming, *before}:
            if name == CONTAINED or not hides(rule, name):
                continue
            if name in before:
                result[name] = before[name]
            else:
                result.pop(name, None)
        _unlabel(result, before)
    _merge_contained(result, before, can_read)
    return incoming if result == incoming else result


def _unlabel(result: Json, before: Json) -> None:
    if any(_is_redacted_label(label) for label in (before.get("meta") or {}).get("security") or []):
        return
    meta = result.get("meta")
    if not isinstance(meta, dict) or not meta.get("security"):
        return
    labels = [label for label in meta["security"] if not _is_redacted_label(label)]
    meta = dict(meta)
    if labels:
        meta["security"] = labels
    else:
        meta.pop("security")
    if meta:
        result["meta"] = meta
    else:
        result.pop("meta")


def _merge_contained(result: Json, before: Json, can_read: CanRead) -> None:
    """Contained resources the role can read come from the incoming version; the others stay."""

    def readable(item: Any) -> bool:
        return isinstance(item, dict) and can_read(str(item.get("resourceType")))

    incoming = [item for item in result.get(CONTAINED) or [] if readable(item)]
    kept = [item for item in before.get(CONTAINED) or [] if not readable(item)]
    ids = {item.get("id") for item in kept}
    merged = [*kept, *(item for item in incoming if item.get("id") not in ids)]
    if result.get(CONTAINED) == merged or (not merged and CONTAINED not in result):
        return
    _set_or_drop(result, CONTAINED, merged)


def elements_read_by(expression: str | None, resource_type: str) -> set[str]:
    """Top-level elements of ``resource_type`` a search parameter's expression reads."""
    narrowed = narrow_expression(expression, resource_type)
    if not narrowed:
        return set()
    found: set[str] = set()
    for part in split_union(narrowed):
        for root in (resource_type, "Resource", "DomainResource"):
            found.update(re.findall(_ELEMENT_AFTER_TYPE.format(type=root), part))
    return found


def hidden_search_params(
    registry: ConformanceRegistry, role: str | None, resource_type: str
) -> frozenset[str]:
    """Parameters of ``resource_type`` a role may not search, sort or include by (computed from the
    registry, so a custom SearchParameter over a hidden element is refused too)."""
    rule = rule_for(role, resource_type)
    if rule is None:
        return frozenset()
    hidden = set(TEXT_SEARCH_PARAMS)
    for param in registry.search_parameters(resource_type):
        read = elements_read_by(param.expression, resource_type)
        if any(hides(rule, element) for element in read):
            hidden.add(param.code)
    return frozenset(hidden)
