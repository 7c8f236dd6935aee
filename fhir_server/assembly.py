"""Building the services and the pipeline, the same way for the app and the command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.access import AccessGate, AllowAll
from fhir_server.audit.install import AUDIT_ROUTES, audit_gate, audit_trail, install_audit, observe
from fhir_server.auth import store as auth_store
from fhir_server.auth.discovery import smart_security_component
from fhir_server.auth.revocation_cache import RevocationCache
from fhir_server.auth.users import get_user
from fhir_server.bulk.exporter import install_bulk_export
from fhir_server.capabilities import ServerCapabilities
from fhir_server.conformance.profiles import ConformanceResources
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.conformance.validator import ProfileValidator
from fhir_server.definitions.publish import ReadOnlyConformance, publish_conformance
from fhir_server.definitions.search_parameters import (
    install_custom_search_parameters,
    load_stored_search_parameters,
)
from fhir_server.documents.binaries import BINARY_ROUTES
from fhir_server.guard import Guard
from fhir_server.interactions.operation import OperationSpec
from fhir_server.interactions.pipeline import Pipeline
from fhir_server.jobs import JobRunner
from fhir_server.operations.catalog import discover_operations
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.indexes import index_models
from fhir_server.search.service import SearchService
from fhir_server.services import Services
from fhir_server.settings import Settings
from fhir_server.store.blobs import open_blob_store
from fhir_server.store.jobs import JobStore
from fhir_server.store.repository import ResourceRepository
from fhir_server.store.schema import Schema
from fhir_server.subscriptions.capability import subscription_capabilities
from fhir_server.subscriptions.owner import ActiveAccounts
from fhir_server.subscriptions.topics import shipped_topics
from fhir_server.wiring import install_clinic_rules


async def build_services(
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    *,
    gate: AccessGate | None = None,
    registry: ConformanceRegistry | None = None,
    validator: ProfileValidator | None = None,
    publish: bool = False,
    revocations: RevocationCache | None = None,
) -> Services:
    """The services on ``db``: repository, search, the clinic's rules and the access gate
    (``AllowAll`` for trusted command-line operators). The caller closes ``services.blob_store``.

    ``publish``: also store the shipped conformance resources (the app does it at start-up).
    """
    registry = registry or ConformanceRegistry.create()
    validator = validator or ProfileValidator.from_directories()
    gate = audit_gate(gate or AllowAll(), settings)
    indexer = SearchIndexer(registry, base_url=settings.base_url)
    schema = Schema(db, partial(index_models, registry))
    await schema.create_shared()
    repository = ResourceRepository(db=db, indexer=indexer, schema=schema, base_url=settings.base_url)
    guard = Guard(gate, repository, indexer)
    repository.guard = guard.check_write
    services = Services(
        settings=settings,
        registry=registry,
        repository=repository,
        search=SearchService(db, registry, settings),
        gate=gate,
        guard=guard,
        blob_store=open_blob_store(settings),
        validator=validator,
        jobs=job_runner(settings, db),
    )
    install_clinic_rules(services, validator, revocations)
    install_bulk_export(services)
    install_custom_search_parameters(services, registry)
    repository.hooks.append(ReadOnlyConformance(validator.resources))
    topics = ConformanceResources(shipped_topics())  # the clinic's SubscriptionTopics, read-only too
    repository.hooks.append(ReadOnlyConformance(topics))
    install_audit(services)  # last: a write the other hooks refuse costs no audit insert
    if publish:
        await publish_conformance(services, validator.resources)
        await publish_conformance(services, topics)
    await load_stored_search_parameters(services, registry)
    return services


def job_runner(settings: Settings, db: AsyncDatabase[dict[str, Any]]) -> JobRunner:
    """The background job runner on ``db`` (started by the app's lifespan, never by the CLI)."""
    return JobRunner(
        JobStore(db),
        max_concurrent=settings.job_max_concurrent,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.job_poll_seconds,
        retention_seconds=settings.job_retention_seconds,
    )


def supported_profiles(validator: ProfileValidator) -> dict[str, list[str]]:
    """Profile URLs by the resource type they constrain, for the CapabilityStatement."""
    by_type: dict[str, list[str]] = {}
    for definition in validator.resources.all_by_type("StructureDefinition"):
        if definition.get("kind") == "resource" and definition.get("derivation") == "constraint":
            by_type.setdefault(definition["type"], []).append(definition["url"])
    return by_type


def server_capabilities(
    settings: Settings,
    registry: ConformanceRegistry,
    validator: ProfileValidator,
    operations: list[OperationSpec],
) -> ServerCapabilities:
    """What the CapabilityStatement (and the OpenAPI document) declare."""
    return ServerCapabilities(
        base_url=settings.base_url.rstrip("/"),
        registry=registry,
        operations=operations,
        security=smart_security_component(settings),
        profiles_by_type=supported_profiles(validator),
        resource_notes=subscription_capabilities(),
    )


def build_pipeline(services: Services, capabilities: ServerCapabilities) -> Pipeline:
    """The interaction pipeline over these services: the core dispatch table, Binary's raw
    content rows, AuditEvent's rows, the ``$operations`` the capabilities declare, and the audit
    trail observing every call."""
    pipeline = Pipeline(
        services=services,
        operations=capabilities.operations,
        capability_statement=capabilities.published,
        routes=(*BINARY_ROUTES, *AUDIT_ROUTES),
    )
    observe(pipeline)
    return pipeline


@asynccontextmanager
async def assembled(
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    *,
    gate: AccessGate | None = None,
    registry: ConformanceRegistry | None = None,
    validator: ProfileValidator | None = None,
    publish: bool = False,
) -> AsyncIterator[Pipeline]:
    """Services and pipeline on ``db`` (see :func:`build_services`) for a command: the audit trail
    runs while the block does, and on the way out what it holds is written and the blob store closed
    (a command's writes are audited like the server's, and no task is left for the loop to cancel)."""
    registry = registry or ConformanceRegistry.create()
    validator = validator or ProfileValidator.from_directories()
    services = await build_services(
        settings, db, gate=gate, registry=registry, validator=validator, publish=publish
    )
    trail = audit_trail(services)
    try:
        if trail is not None:
            await trail.start()
        yield build_pipeline(
            services, server_capabilities(settings, registry, validator, discover_operations())
        )
    finally:
        await close_services(services)


async def close_services(services: Services) -> None:
    """Stop what services hold, for the app's lifespan, a command and a test alike: the audit trail
    writes what it queued and stops its writer (which otherwise runs on after its database is gone),
    and the blob store closes."""
    trail = audit_trail(services)
    try:
        if trail is not None:
            await trail.close()
    finally:
        await services.blob_store.close()


def account_authority(db: AsyncDatabase[dict[str, Any]], *, cache_seconds: float = 10.0) -> ActiveAccounts:
    """Whether a subscription's creator still has access, from the accounts and clients this server
    keeps: a disabled user account or client stops its subscriptions (``fhir_server.subscriptions``).
    Subjects and clients unknown here (external issuers, development tokens) keep their scopes."""

    async def user_active(username: str) -> bool | None:
        user = await get_user(db=db, username=username)
        return None if user is None else bool(user.get("active", False))

    async def client_active(client_id: str) -> bool | None:
        client = await db[auth_store.CLIENTS].find_one({"_id": client_id}, {"active": 1})
        return None if client is None else bool(client.get("active", False))

    return ActiveAccounts(user_active=user_active, client_active=client_active, cache_seconds=cache_seconds)
