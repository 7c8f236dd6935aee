"""The ``searchset`` Bundle: entries, links and the outcome entry of a search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fhir_server.errors import Issue, operation_outcome

_SAFE = "/:|,$*"


def link_url(base_path: str, pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return base_path
    return f"{base_path}?{urlencode(list(pairs), safe=_SAFE)}"


def entry(base_url: str, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def outcome_entry(issues: Sequence[Issue]) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": operation_outcome(issues),
        "search": {"mode": "outcome"},
    }


def searchset(
    *,
    links: Sequence[tuple[str, str]],
    entries: list[dict[str, Any]],
    total: int | None,
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")},
        "type": "searchset",
    }
    if total is not None:
        bundle["total"] = total
    bundle["link"] = [{"relation": relation, "url": url} for relation, url in links]
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle
