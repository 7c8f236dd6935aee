"""Custom SearchParameter resources: posted ones become searchable (existing data after ``$reindex``)."""

from __future__ import annotations

import logging
from typing import Any

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.context import RequestContext
from fhir_server.errors import FhirError
from fhir_server.services import Services

logger = logging.getLogger(__name__)


def install_custom_search_parameters(services: Services, registry: ConformanceRegistry) -> None:
    """Register each SearchParameter as it is written (an unusable one is refused with 422)."""

    async def register(ctx: RequestContext, resource: dict[str, Any]) -> None:
        if resource.get("resourceType") == "SearchParameter" and resource.get("status") != "retired":
            registry.add_search_parameter(resource)

    services.write_checks.append(register)


async def load_stored_search_parameters(services: Services, registry: ConformanceRegistry) -> int:
    """Register the SearchParameters stored earlier (at start-up: the registry lives in memory)."""
    loaded = 0
    async for resource in services.repository.all_current("SearchParameter"):
        if resource.get("status") == "retired":
            continue
        try:
            registry.add_search_parameter(resource)
            loaded += 1
        except FhirError:
            logger.warning("a stored SearchParameter could not be registered; it is not searchable")
    return loaded
