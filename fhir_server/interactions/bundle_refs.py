"""References between the entries of a bundle: finding them and rewriting them to stored ids.

A transaction's entries point at each other by fullUrl (``urn:uuid:...``, ``urn:oid:...``, or an
absolute URL) and at existing resources by search (``Practitioner?identifier=sys|val``). Once the
targets are known, every such value becomes ``Type/id``: in ``Reference.reference`` and
``Attachment.url`` anywhere in the resource (contained resources and extensions included) and in
the narrative's ``<a href>`` / ``<img src>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

PLACEHOLDER_PREFIXES = ("urn:uuid:", "urn:oid:")
_CONDITIONAL = re.compile(r"^([A-Z][A-Za-z]{1,63})\?(.+)$")
# Keys whose string value may name another entry: Reference.reference, Attachment.url.
_LINK_KEYS = frozenset({"reference", "url"})
_NARRATIVE_LINK = re.compile(r"""(\b(?:href|src)\s*=\s*)(["'])(.*?)\2""")


def is_placeholder(reference: str) -> bool:
    """A ``urn:uuid:`` / ``urn:oid:`` reference: it only means something inside its bundle."""
    return reference.startswith(PLACEHOLDER_PREFIXES)


def conditional_reference(reference: str) -> tuple[str, str] | None:
    """(type, query) of a conditional reference like ``Patient?identifier=sys|1``, else None."""
    match = _CONDITIONAL.match(reference)
    return None if match is None else (match.group(1), match.group(2))


def iter_reference_values(value: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere in the value, contained resources included."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "reference" and isinstance(child, str):
                yield child
            elif isinstance(child, dict | list):
                yield from iter_reference_values(child)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                yield from iter_reference_values(item)


def rewrite_references(value: Any, targets: Mapping[str, str]) -> Any:
    """A copy of ``value`` with every link found in ``targets`` replaced by its target."""
    if isinstance(value, dict):
        rewritten: dict[str, Any] = {}
        for key, child in value.items():
            if isinstance(child, str):
                if key in _LINK_KEYS:
                    child = targets.get(child, child)
                elif key == "div":
                    child = _rewrite_narrative(child, targets)
                rewritten[key] = child
            elif isinstance(child, dict | list):
                rewritten[key] = rewrite_references(child, targets)
            else:
                rewritten[key] = child
        return rewritten
    if isinstance(value, list):
        return [
            rewrite_references(item, targets) if isinstance(item, dict | list) else item for item in value
        ]
    return value


def _rewrite_narrative(div: str, targets: Mapping[str, str]) -> str:
    if "=" not in div:
        return div

    def replace(match: re.Match[str]) -> str:
        prefix, quote, link = match.groups()
        return f"{prefix}{quote}{targets.get(link, link)}{quote}"

    return _NARRATIVE_LINK.sub(replace, div)
