"""Building the services an interaction needs, the same way for the app and the command line."""

from __future__ import annotations

from functools import partial
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.access import AccessGate, AllowAll
from fhir_server.conformance.custom_params import (
    install_custom_search_parameters,
    load_stored_search_parameters,
)
from fhir_server.conformance.publish import ReadOnlyConformance, publish_conformance
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.conformance.validator import ProfileValidator
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.indexes import index_models
from fhir_server.search.service import SearchService
from fhir_server.services import Services
from fhir_server.settings import Settings
from fhir_server.store.blobs import open_blob_store
from fhir_server.store.repository import ResourceRepository
from fhir_server.wiring import install_clinic_rules


async def build_services(
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    *,
    gate: AccessGate | None = None,
    registry: ConformanceRegistry | None = None,
    validator: ProfileValidator | None = None,
    publish: bool = False,
) -> Services:
    """The services on ``db``: repository, search, the clinic's rules and the access gate
    (``AllowAll`` for trusted command-line operators). The caller closes ``services.blob_store``.

    ``publish``: also store the shipped conformance resources (the app does it at start-up).
    """
    registry = registry or ConformanceRegistry.create()
    validator = validator or ProfileValidator.from_directories()
    repository = ResourceRepository(
        db=db,
        indexer=SearchIndexer(registry, base_url=settings.base_url),
        index_models=partial(index_models, registry),
        base_url=settings.base_url,
    )
    await repository.ensure_base_collections()
    services = Services(
        settings=settings,
        registry=registry,
        repository=repository,
        search=SearchService(db, registry, settings),
        gate=gate or AllowAll(),
        blob_store=open_blob_store(settings),
    )
    install_clinic_rules(services, validator)
    install_custom_search_parameters(services, registry)
    repository.hooks.append(ReadOnlyConformance(validator.resources))
    if publish:
        await publish_conformance(services, validator.resources)
    await load_stored_search_parameters(services, registry)
    return services
