"""Profile policy settings for writes: ``FHIR_REQUIRED_PROFILES`` (resource type -> profile URLs a
write must claim, or be by its clinic content). Enforced by
:meth:`~fhir_server.conformance.validator.ProfileValidator.validate_for_write`."""

from __future__ import annotations

import orjson


def parse_required_profiles(raw: str) -> dict[str, list[str]]:
    """``settings.required_profiles`` (JSON: resource type -> profile URLs), checked for shape."""
    data = orjson.loads(raw or "{}")
    valid = isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(u, str) for u in v)
        for k, v in data.items()
    )
    if not valid:
        raise ValueError("required_profiles must be a JSON object of resource type -> list of profile URLs")
    return {key: list(value) for key, value in data.items()}
