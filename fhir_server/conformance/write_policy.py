"""Profile policy for writes (create, update): called by the interaction layer on every write.

A write is refused (422) when the resource claims a known clinic profile in ``meta.profile`` and
does not conform to it, or when its type requires one of some profiles (``FHIR_REQUIRED_PROFILES``)
and it claims none of them. Profiles the server does not know are ignored (a warning in $validate).
Resources that claim no known profile are not validated here: base structure is the parser's job.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from fhir_server.errors import Issue, Unprocessable

JsonDict = dict[str, Any]
FAILING = frozenset({"error", "fatal"})


class Validator(Protocol):
    def knows_profile(self, url: str) -> bool: ...

    def validate(
        self, resource: JsonDict, *, profiles: list[str] | None = None, mode: str | None = None
    ) -> list[Issue]: ...


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


def _claimed(resource: JsonDict) -> list[str]:
    meta = resource.get("meta")
    profiles = meta.get("profile", []) if isinstance(meta, dict) else []
    return [p.split("|")[0] for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def check_write(resource: JsonDict, *, validator: Validator, required_profiles: dict[str, list[str]]) -> None:
    """Raise :class:`~fhir_server.errors.Unprocessable` (422, with every issue) when the write
    breaks the profile policy; return quietly otherwise."""
    resource_type = str(resource.get("resourceType", ""))
    claimed = _claimed(resource)
    known_claims = [url for url in claimed if validator.knows_profile(url)]
    required = [url.split("|")[0] for url in required_profiles.get(resource_type, [])]
    if required and not set(required) & set(claimed):
        raise Unprocessable(
            f"A {resource_type} must claim one of these profiles in meta.profile: {', '.join(required)}",
            (f"{resource_type}.meta.profile",),
        )
    if not known_claims:
        return
    issues = validator.validate(resource)
    errors = [issue for issue in issues if issue.severity in FAILING]
    if errors:
        raise Unprocessable(
            f"The {resource_type} does not conform to its profile ({len(errors)} error(s))",
            extra_issues=issues,
        )
