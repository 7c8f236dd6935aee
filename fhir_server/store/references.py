"""Outgoing references of a resource, kept on each stored document for referential-integrity checks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# "Type/id" possibly after a base URL and followed by "/_history/n".
_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]+)?$")


def reference_key(reference: str, base_url: str) -> str | None:
    """``Type/id`` for a reference to a resource on this server, else None (external, contained, urn)."""
    if reference.startswith("#") or reference.startswith("urn:") or "?" in reference:
        return None
    if "://" in reference:
        if not reference.startswith(base_url.rstrip("/") + "/"):
            return None
        reference = reference[len(base_url.rstrip("/")) + 1 :]
    match = _REFERENCE.match(reference)
    if match is None or match.start() != 0:
        return None
    return f"{match.group(1)}/{match.group(2)}"


def iter_references(value: Any) -> Iterator[dict[str, Any]]:
    """Every Reference-shaped object (a dict with a string ``reference``) anywhere in the value."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value
        for key, child in value.items():
            if key != "contained" and isinstance(child, dict | list):
                yield from iter_references(child)
    elif isinstance(value, list):
        for item in value:
            yield from iter_references(item)


def outgoing_references(resource: dict[str, Any], base_url: str) -> list[str]:
    """Sorted distinct ``Type/id`` keys this resource points at (contained resources included)."""
    keys = {
        key
        for ref in iter_references(resource)
        if (key := reference_key(ref["reference"], base_url)) is not None
    }
    for contained in resource.get("contained", []):
        keys.update(outgoing_references(contained, base_url))
    return sorted(keys)
