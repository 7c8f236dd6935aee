"""Unique identifiers: an identifier system declared unique for a type (the clinic's MRN on
Patient, by default) names at most one current resource of that type.

A repository hook, so every path obeys it (create, update, patch, transaction and batch entries,
import, import-clinic). Atomic under concurrency: the writer claims ``identifier:<type>|<system>|
<value>`` in its transaction before looking for another holder, so of two racing writers of one
MRN one conflicts on the claim, retries, and then finds the other's resource (409).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from fhir_server.errors import Conflict
from fhir_server.services import Services
from fhir_server.store.repository import Change, WriteContext


def parse_unique_identifiers(raw: str) -> dict[str, frozenset[str]]:
    """``settings.unique_identifiers`` (JSON: resource type -> identifier systems), checked for shape."""
    data = orjson.loads(raw or "{}")
    valid = isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v)
        for k, v in data.items()
    )
    if not valid:
        raise ValueError("unique_identifiers must be a JSON object of resource type -> list of systems")
    return {resource_type: frozenset(systems) for resource_type, systems in data.items()}


def _identifiers(resource: dict[str, Any], systems: frozenset[str]) -> Iterator[tuple[str, str]]:
    for identifier in resource.get("identifier") or []:
        if not isinstance(identifier, dict):
            continue
        system, value = identifier.get("system"), identifier.get("value")
        if system in systems and isinstance(value, str) and value:
            yield system, value


class UniqueIdentifiers:
    """The repository hook enforcing unique identifier systems."""

    def __init__(self, services: Services, unique: dict[str, frozenset[str]]) -> None:
        self._services = services
        self._unique = unique

    async def __call__(self, wctx: WriteContext, change: Change) -> None:
        systems = self._unique.get(change.resource_type)
        if not systems or change.current is None:
            return
        for system, value in sorted(set(_identifiers(change.current, systems))):
            await self._services.repository.claim(
                f"identifier:{change.resource_type}|{system}|{value}", wctx.session
            )
            ids = await self._services.search.find_ids(
                resource_type=change.resource_type,
                params=[("identifier", f"{system}|{value}")],
                limit=2,
                session=wctx.session,
            )
            others = [other for other in ids if other != change.resource_id]
            if others:
                await self._refuse(wctx, change.resource_type, system, others[0])

    async def _refuse(self, wctx: WriteContext, resource_type: str, system: str, holder: str) -> None:
        """409, naming the holder only to a caller who may read it."""
        stored = await self._services.repository.current(
            resource_type=resource_type, resource_id=holder, session=wctx.session
        )
        writer = wctx.cause or wctx.ctx
        holder_resource = stored.resource if stored is not None else None
        visible = holder_resource is not None and self._services.guard.can_see(writer, holder_resource)
        named = f" ({resource_type}/{holder})" if visible else ""
        raise Conflict(
            f"another {resource_type} already has this identifier of system {system}{named}; "
            "identifiers of that system are unique",
            (f"{resource_type}.identifier",),
        )


def install_unique_identifiers(services: Services) -> None:
    unique = parse_unique_identifiers(services.settings.unique_identifiers)
    if unique:
        services.repository.hooks.append(UniqueIdentifiers(services, unique))
