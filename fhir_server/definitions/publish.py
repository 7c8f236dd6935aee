"""The shipped conformance resources (``profiles/``), stored so that read and search serve them.

They are read-only: a write that would change or delete one is refused, whatever the caller's scopes.
Publishing an unchanged resource is a no-op update, so restarts and parallel workers keep versions.
"""

from __future__ import annotations

import logging
from typing import Any

from fhir_server.conformance.profiles import ConformanceResources
from fhir_server.context import Principal, RequestContext
from fhir_server.errors import MethodNotAllowed
from fhir_server.services import Services
from fhir_server.store.repository import Change, Session, WriteContext

logger = logging.getLogger(__name__)


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if key != "meta"}


class ReadOnlyConformance:
    """A repository hook refusing any write that alters a shipped conformance resource."""

    def __init__(self, resources: ConformanceResources) -> None:
        self._shipped = {
            (resource_type, resource["id"]): _content(resource)
            for resource_type in resources.types()
            for resource in resources.all_by_type(resource_type)
            if "id" in resource
        }

    async def __call__(self, wctx: WriteContext, change: Change) -> None:
        shipped = self._shipped.get((change.resource_type, change.resource_id))
        if shipped is not None and (change.current is None or _content(change.current) != shipped):
            raise MethodNotAllowed(
                f"{change.resource_type}/{change.resource_id} ships with the server and is read-only"
            )


async def publish_conformance(services: Services, resources: ConformanceResources) -> None:
    """Store every shipped conformance resource under its own id (unchanged ones keep their version)."""
    repository = services.repository
    await repository.ensure_collections(resources.types())
    server = RequestContext(principal=Principal.system(), base_url=services.settings.base_url.rstrip("/"))

    # One read per type finds what is already stored as shipped (every restart): only the rest is
    # written, and a restart that changes nothing writes nothing.
    changed: list[tuple[str, dict[str, Any]]] = []
    for resource_type in resources.types():
        shipped = resources.all_by_type(resource_type)
        stored = await repository.read_many(
            resource_type=resource_type, resource_ids=[resource["id"] for resource in shipped]
        )
        stored_content = {item.id: _content(item.resource) for item in stored if item.resource is not None}
        changed.extend(
            (resource_type, resource)
            for resource in shipped
            if stored_content.get(resource["id"]) != _content(resource)
        )

    async def store(session: Session) -> None:  # all or none, in one commit
        for resource_type, resource in changed:
            await repository.update(
                resource_type=resource_type,
                resource_id=resource["id"],
                resource=resource,
                wctx=WriteContext(server, session),
            )

    if changed:
        await repository.transaction(store)
    logger.info(
        "published %d conformance resources (%d written)",
        sum(len(resources.all_by_type(t)) for t in resources.types()),
        len(changed),
    )
