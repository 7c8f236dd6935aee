"""Reference targets: which resource type a Reference points to, and which types a profile allows."""

from __future__ import annotations

import re
from typing import Any

# [base/]Type/id[/_history/vid]: the type is the segment before the id.
_LITERAL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def referenced_type(reference: Any, root: Any) -> str | None:
    """The resource type of a Reference value; None when it cannot be told without resolving it
    (``urn:uuid:`` references in bundles, logical references by identifier only)."""
    if not isinstance(reference, dict):
        return None
    declared = reference.get("type")
    if isinstance(declared, str) and "/" not in declared:
        return declared
    literal = reference.get("reference")
    if not isinstance(literal, str):
        return None
    if literal.startswith("#"):
        return _contained_type(root, literal[1:])
    match = _LITERAL.search(literal.split("?")[0])
    return match.group(1) if match else None


def _contained_type(root: Any, contained_id: str) -> str | None:
    if not isinstance(root, dict):
        return None
    contained_resources = root.get("contained")
    for contained in contained_resources if isinstance(contained_resources, list) else ():
        if isinstance(contained, dict) and contained.get("id") == contained_id:
            resource_type = contained.get("resourceType")
            return resource_type if isinstance(resource_type, str) else None
    return None
