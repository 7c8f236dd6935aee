"""Carrying out one bundle entry through the same interactions the REST routes use.

Each entry runs in the given MongoDB session (a transaction's) or, with none, in its own
transaction (a batch). Dispatch is a table keyed by method and what the URL addresses.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest
from fhir_server.fhirdates import parse_instant
from fhir_server.interactions import crud
from fhir_server.interactions.bundle_entries import BundleEntry, Target
from fhir_server.interactions.patch import patch as patch_interaction
from fhir_server.jsonio import parse_json
from fhir_server.services import Services, Session
from fhir_server.store.repository import StoredResource, WriteResult

JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class EntryResult:
    """What an entry did, before it is shaped into ``entry.response`` (and ``entry.resource``)."""

    status: int
    stored: StoredResource | None = None  # gives etag, lastModified (and location for writes)
    write: WriteResult | None = None  # set for creates and updates
    body: dict[str, Any] | None = None  # what a GET returns: the resource or a searchset


@dataclass(frozen=True)
class EntryRun:
    services: Services
    ctx: RequestContext
    session: Session | None
    assigned_ids: Mapping[int, str] = field(default_factory=dict)  # entry index -> id for a new resource


Handler = Callable[[EntryRun, BundleEntry, dict[str, Any] | None], Awaitable[EntryResult]]


def _type(entry: BundleEntry) -> str:
    assert entry.url.resource_type is not None  # parse_entry guarantees it for these targets
    return entry.url.resource_type


def _id(entry: BundleEntry) -> str:
    assert entry.url.resource_id is not None
    return entry.url.resource_id


def _resource(resource: dict[str, Any] | None) -> dict[str, Any]:
    assert resource is not None  # parse_entry guarantees one for POST, PUT and PATCH
    return resource


def _written(result: WriteResult) -> EntryResult:
    return EntryResult(201 if result.created else 200, stored=result.stored, write=result)


# ----- writes ------------------------------------------------------------------------------------


async def _create(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    result = await crud.create(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        body=_resource(resource),
        if_none_exist=entry.if_none_exist,
        session=run.session,
        assigned_id=run.assigned_ids.get(entry.index),
    )
    return _written(result)


async def _update(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    result = await crud.update(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        resource_id=_id(entry),
        body=_resource(resource),
        if_match=entry.if_match,
        session=run.session,
    )
    return _written(result)


async def _conditional_update(
    run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None
) -> EntryResult:
    body = _resource(resource)
    assigned = run.assigned_ids.get(entry.index)
    if assigned is not None and "id" not in body:  # settled beforehand so that others can point at it
        body = {**body, "id": assigned}
    result = await crud.conditional_update(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        condition=entry.url.query or "",
        body=body,
        if_match=entry.if_match,
        session=run.session,
    )
    return _written(result)


def patch_document(resource: dict[str, Any]) -> tuple[Any, bool]:
    """The patch an entry carries and whether it is a JSON Patch (a Binary) or a FHIRPath Patch."""
    if resource.get("resourceType") != "Binary":
        return resource, False
    if resource.get("contentType") != JSON_PATCH:
        raise BadRequest(f"a Binary patch must have contentType {JSON_PATCH}", ("Binary.contentType",))
    try:
        raw = base64.b64decode(str(resource.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Binary.data is not valid base64", ("Binary.data",)) from None
    return parse_json(raw), True


async def _patch(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    document, json_patch = patch_document(_resource(resource))
    result = await patch_interaction(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        resource_id=entry.url.resource_id,
        condition=entry.url.query if entry.url.target is Target.TYPE else None,
        patch_body=document,
        json_patch=json_patch,
        if_match=entry.if_match,
        session=run.session,
    )
    return _written(result)


async def _delete(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    tombstone = await crud.delete(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        resource_id=_id(entry),
        if_match=entry.if_match,
        session=run.session,
    )
    return EntryResult(204, stored=tombstone)


async def _conditional_delete(
    run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None
) -> EntryResult:
    await crud.conditional_delete(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        condition=entry.url.query or "",
        session=run.session,
    )
    return EntryResult(204)


# ----- reads -------------------------------------------------------------------------------------


def _not_modified(entry: BundleEntry, stored: StoredResource) -> bool:
    """``ifNoneMatch`` / ``ifModifiedSince`` on a read entry: True when the client's copy is current."""
    if entry.if_none_match is not None:
        tags = {tag.strip() for tag in entry.if_none_match.split(",")}
        return stored.etag in tags or stored.etag.removeprefix("W/") in tags or "*" in tags
    if entry.if_modified_since is not None:
        since = parse_instant(entry.if_modified_since, name="ifModifiedSince")
        return stored.last_updated.replace(microsecond=0) <= since
    return False


def _read_result(entry: BundleEntry, stored: StoredResource) -> EntryResult:
    if _not_modified(entry, stored):
        return EntryResult(304, stored=stored)
    return EntryResult(200, stored=stored, body=stored.resource)


async def _read(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    stored = await crud.read(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        resource_id=_id(entry),
        session=run.session,
    )
    return _read_result(entry, stored)


async def _vread(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    stored = await crud.vread(
        services=run.services,
        ctx=run.ctx,
        resource_type=_type(entry),
        resource_id=_id(entry),
        version=entry.url.version or "",
        session=run.session,
    )
    return _read_result(entry, stored)


async def _search(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    params = parse_qsl(entry.url.query or "", keep_blank_values=True)
    bundle = await run.services.search.search(
        ctx=run.ctx,
        gate=run.services.gate,
        resource_type=entry.url.resource_type,
        params=params,
        session=run.session,
    )
    return EntryResult(200, body=bundle)


def _head(handler: Handler) -> Handler:
    """HEAD: the GET's status and headers without its body."""

    async def head(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
        result = await handler(run, entry, resource)
        return EntryResult(result.status, stored=result.stored)

    return head


_READS: dict[Target, Handler] = {
    Target.SYSTEM: _search,
    Target.TYPE: _search,
    Target.INSTANCE: _read,
    Target.VERSION: _vread,
}

# (method, target, conditional?) -> handler; parse_entry has refused every other combination.
HANDLERS: dict[tuple[str, Target, bool], Handler] = {
    ("POST", Target.TYPE, False): _create,
    ("PUT", Target.INSTANCE, False): _update,
    ("PUT", Target.TYPE, True): _conditional_update,
    ("PATCH", Target.INSTANCE, False): _patch,
    ("PATCH", Target.TYPE, True): _patch,
    ("DELETE", Target.INSTANCE, False): _delete,
    ("DELETE", Target.TYPE, True): _conditional_delete,
    **{
        ("GET", target, conditional): read for target, read in _READS.items() for conditional in (False, True)
    },
    **{
        ("HEAD", target, conditional): _head(read)
        for target, read in _READS.items()
        for conditional in (False, True)
    },
}


async def execute_entry(run: EntryRun, entry: BundleEntry, resource: dict[str, Any] | None) -> EntryResult:
    """Carry out one entry with its (already rewritten) resource."""
    conditional = entry.url.query is not None and entry.url.target in {Target.TYPE, Target.SYSTEM}
    handler = HANDLERS[(entry.method, entry.url.target, conditional)]
    return await handler(run, entry, resource)
