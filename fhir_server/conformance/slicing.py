"""Slicing: which slice each repetition of a sliced element belongs to, and the slices' rules.

Supported discriminators: ``value`` and ``pattern`` (on ``$this`` or a dotted path such as
``system``, ``coding.code`` or an extension's ``url``), ``exists`` and ``type``. A ``profile``
discriminator or a path with functions (``resolve()``, ``extension(...)``) never matches, so such
repetitions fall to the open part of the slicing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fhir_server.conformance.structure import NO_VALUE, Discriminator, ElementRule, Slicing
from fhir_server.conformance.values import matches_fixed, matches_pattern, values_at
from fhir_server.errors import Issue


@dataclass(frozen=True, slots=True)
class SliceItem:
    """What slicing needs to know about one repetition."""

    value: Any
    type_code: str | None
    location: str


def _expected(slice_rule: ElementRule, path: str) -> tuple[str, Any] | None:
    """("fixed" | "pattern", value) a slice requires at a discriminator path."""
    node: ElementRule | None = slice_rule
    if path != "$this":
        for name in path.split("."):
            node = node.child(name) if node is not None else None
    if node is not None and node.fixed is not NO_VALUE:
        return "fixed", node.fixed
    if node is not None and node.pattern is not NO_VALUE:
        return "pattern", node.pattern
    for kind, own in (("fixed", slice_rule.fixed), ("pattern", slice_rule.pattern)):
        if own is not NO_VALUE and path != "$this":
            found = values_at(own, path)
            if found:
                return kind, found[0]
    if path == "url" and slice_rule.types and slice_rule.types[0].profiles:
        return "fixed", slice_rule.types[0].profiles[0]  # extension slices name their definition
    return None


def _by_value(discriminator: Discriminator, slice_rule: ElementRule, item: SliceItem) -> bool:
    expected = _expected(slice_rule, discriminator.path)
    if expected is None:
        return False
    kind, wanted = expected
    found = values_at(item.value, discriminator.path)
    compare = matches_fixed if kind == "fixed" and discriminator.type == "value" else matches_pattern
    return any(compare(value, wanted) for value in found)


def _by_exists(discriminator: Discriminator, slice_rule: ElementRule, item: SliceItem) -> bool:
    node: ElementRule | None = slice_rule
    for name in discriminator.path.split("."):
        node = node.child(name) if node is not None and name != "$this" else node
    wanted = node is None or node.max != 0  # a slice forbidding the element means "absent"
    return bool(values_at(item.value, discriminator.path)) == wanted


def _by_type(discriminator: Discriminator, slice_rule: ElementRule, item: SliceItem) -> bool:
    actual = item.type_code
    if discriminator.path != "$this":
        found = values_at(item.value, discriminator.path)
        actual = found[0].get("resourceType") if found and isinstance(found[0], dict) else None
    elif isinstance(item.value, dict) and "resourceType" in item.value:
        actual = item.value["resourceType"]
    return actual in {t.code for t in slice_rule.types}


DISCRIMINATORS: dict[str, Callable[[Discriminator, ElementRule, SliceItem], bool]] = {
    "value": _by_value,
    "pattern": _by_value,
    "exists": _by_exists,
    "type": _by_type,
}


def slice_of(rule: ElementRule, slicing: Slicing, item: SliceItem) -> ElementRule | None:
    """The first slice whose discriminators all match, None for the open part."""
    for slice_rule in rule.slices:
        if all(
            (check := DISCRIMINATORS.get(d.type)) is not None and check(d, slice_rule, item)
            for d in slicing.discriminators
        ):
            return slice_rule
    return None


def assign_slices(
    rule: ElementRule, items: Sequence[SliceItem], *, location: str, source: str
) -> tuple[list[tuple[ElementRule, int]], list[Issue]]:
    """(slice, item index) pairs for the matched repetitions and the issues of the slicing rules."""
    slicing = rule.effective_slicing()
    if slicing is None:
        return [], []
    issues: list[Issue] = []
    matched: list[tuple[ElementRule, int]] = []
    counts = dict.fromkeys((s.element_id for s in rule.slices), 0)
    order = {s.element_id: i for i, s in enumerate(rule.slices)}
    last_order, saw_unmatched = -1, False
    for index, item in enumerate(items):
        chosen = slice_of(rule, slicing, item)
        if chosen is None:
            saw_unmatched = True
            if slicing.rules == "closed":
                issues.append(
                    _issue("structure", f"{rule.path}: does not match any slice ({source})", item.location)
                )
            continue
        if slicing.rules == "openAtEnd" and saw_unmatched:
            issues.append(
                _issue("structure", f"{rule.path}: sliced items must come first ({source})", item.location)
            )
        if slicing.ordered and order[chosen.element_id] < last_order:
            issues.append(
                _issue("structure", f"{rule.path}: slices are out of order ({source})", item.location)
            )
        last_order = max(last_order, order[chosen.element_id])
        counts[chosen.element_id] += 1
        matched.append((chosen, index))
    for slice_rule in rule.slices:
        found = counts[slice_rule.element_id]
        name = f"{rule.path}:{slice_rule.slice_name}"
        if found < slice_rule.min:
            issues.append(
                _issue(
                    "required",
                    f"{name}: minimum required = {slice_rule.min}, found {found} ({source})",
                    location,
                )
            )
        if slice_rule.max is not None and found > slice_rule.max:
            issues.append(
                _issue(
                    "structure",
                    f"{name}: maximum allowed = {slice_rule.max}, found {found} ({source})",
                    location,
                )
            )
    return matched, issues


def _issue(code: str, diagnostics: str, location: str) -> Issue:
    return Issue(code=code, diagnostics=diagnostics, severity="error", expression=(location,))
