"""JSON Merge Patch (RFC 7386), applied to a copy of a resource.

fhirpy and other clients send a resource fragment as ``application/merge-patch+json`` (or plain
``application/json``): members replace the resource's, ``null`` removes them, objects merge
recursively, arrays are replaced whole. The result is validated like any update.
"""

from __future__ import annotations

from typing import Any

from fhir_server.errors import BadRequest


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


def apply_merge_patch(document: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The document with the merge patch applied; ``document`` itself is left untouched."""
    if not isinstance(patch, dict):
        raise BadRequest("a JSON merge patch is a JSON object (a fragment of the resource)")
    merged = _merge(document, patch)
    assert isinstance(merged, dict)
    return merged
