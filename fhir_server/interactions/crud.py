"""Instance and type interactions: read, vread, create, update, patch, delete, and their conditional forms.

Business rules live here, below any transport, so REST, bundle entries and operations share them.
Each write runs in the caller's transaction when given one (bundles), else in its own; every
repository write goes through the write door (``Guard.check_write``) with the caller's context.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import BadRequest, Conflict, Gone, NotFound, PreconditionFailed, TooCostly
from fhir_server.guard import not_known
from fhir_server.interactions.write import prepare_write
from fhir_server.resources import check_id
from fhir_server.services import Services
from fhir_server.store.repository import Session, StoredResource, WriteContext, WriteResult

CONDITIONAL_DELETE_LIMIT = 100


def parse_condition(query: str) -> list[tuple[str, str]]:
    """A conditional-operation query (``identifier=sys|1``) as search parameters; 400 when empty."""
    params = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if not params:
        raise BadRequest("a conditional operation needs search parameters")
    return params


def encode_condition(params: list[tuple[str, str]]) -> str:
    """Search parameters as the query string of a conditional operation."""
    return urlencode(params)


def condition_claim(resource_type: str) -> str:
    """The claim every conditional write of a type takes before it searches.

    Keyed by the type, not by the condition's text: ``identifier=sys|X``, ``identifier=X`` and
    ``name=...`` may all match the same resource, so racing conditional writes of one type
    serialise (one commits, the others retry and then see its result)."""
    return f"conditional:{resource_type}"


# ----- reads -------------------------------------------------------------------------------------


async def read(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    session: Session | None = None,
) -> StoredResource:
    services.guard.require(ctx, Interaction.READ, resource_type)
    stored = await services.repository.current(
        resource_type=resource_type, resource_id=resource_id, session=session
    )
    if stored is None:
        raise not_known(resource_type, resource_id)
    if stored.deleted:
        # "Deleted" tells that the id existed: only for a caller who could see what was deleted.
        if not await services.guard.saw_before_deletion(ctx, stored, session):
            raise not_known(resource_type, resource_id)
        raise Gone(f"{resource_type}/{resource_id} was deleted", headers={"ETag": stored.etag})
    return services.guard.visible(ctx, stored)


async def vread(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    version: str,
    session: Session | None = None,
) -> StoredResource:
    services.guard.require(ctx, Interaction.VREAD, resource_type)
    current = await services.repository.current(
        resource_type=resource_type, resource_id=resource_id, session=session
    )
    if current is None:
        raise not_known(resource_type, resource_id)
    if current.resource is not None:
        services.guard.visible(ctx, current)
    elif not await services.guard.saw_before_deletion(ctx, current, session):
        raise not_known(resource_type, resource_id)
    number = int(version) if version.isascii() and version.isdigit() else None
    stored = (
        await services.repository.version(
            resource_type=resource_type, resource_id=resource_id, version=number, session=session
        )
        if number is not None
        else None
    )
    if stored is None:
        raise NotFound(f"{resource_type}/{resource_id} has no version {version}")
    if stored.deleted:
        raise Gone(f"version {version} of {resource_type}/{resource_id} is a deletion")
    return services.guard.visible(ctx, stored)


# ----- create ------------------------------------------------------------------------------------


async def create(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    body: dict[str, Any],
    if_none_exist: str | None = None,
    session: Session | None = None,
    assigned_id: str | None = None,
) -> WriteResult:
    """Create with a server-assigned id; with ``If-None-Exist``, atomically return the match instead.

    ``assigned_id``: the id chosen beforehand by the server (a transaction assigns ids before it
    writes, so entries can reference each other); never a client's id.
    """
    services.guard.require(ctx, Interaction.CREATE, resource_type)
    condition = parse_condition(if_none_exist) if if_none_exist is not None else None
    if condition is not None:
        services.gate.check_search(ctx, resource_type, condition)  # before the body is looked at
    # The server assigns ids on create: checks and transforms never see the client's.
    body = {key: value for key, value in body.items() if key != "id"}
    resource = await prepare_write(services, ctx, resource_type, body, Interaction.CREATE)

    async def work(session: Session) -> WriteResult:
        if condition is not None:
            existing = await match_one(services, ctx, resource_type, condition, session)
            if existing is not None:
                stored = await services.repository.read(
                    resource_type=resource_type, resource_id=existing, session=session
                )
                return WriteResult(services.guard.visible(ctx, stored), created=False, changed=False)
        wctx = WriteContext(ctx, session)
        if assigned_id is not None:
            return await services.repository.replace(
                existing=None,
                resource_type=resource_type,
                resource_id=assigned_id,
                resource=resource,
                wctx=wctx,
                method="POST",
            )
        return await services.repository.create(resource_type=resource_type, resource=resource, wctx=wctx)

    return await services.in_transaction(session, work)


async def match_one(
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    condition: list[tuple[str, str]],
    session: Session,
) -> str | None:
    """The id matching a condition, None for no match, 412 for several.

    Claims the type's condition key first so that racing conditional writes serialise. Only
    resources the caller could find by searching count: others are neither matched nor revealed
    (the write door keeps the caller from writing over them under another spelling)."""
    await services.repository.claim(condition_claim(resource_type), session)
    ids = await services.search.find_ids(
        resource_type=resource_type, params=condition, limit=2, session=session, ctx=ctx, gate=services.gate
    )
    if len(ids) > 1:
        raise PreconditionFailed(f"the condition matches more than one {resource_type}")
    return ids[0] if ids else None


# ----- update ------------------------------------------------------------------------------------


async def update(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    body: dict[str, Any],
    if_match: int | None = None,
    session: Session | None = None,
) -> WriteResult:
    """Update (or create with the client's id). The body's id must equal the URL's."""
    services.guard.require(ctx, Interaction.UPDATE, resource_type)
    check_id(resource_id)
    if body.get("id") != resource_id:
        raise BadRequest(f"the resource id must equal the id in the URL ('{resource_id}')", ("id",))
    resource = await prepare_write(services, ctx, resource_type, body, Interaction.UPDATE)

    async def work(session: Session) -> WriteResult:
        return await services.repository.update(
            resource_type=resource_type,
            resource_id=resource_id,
            resource=resource,
            wctx=WriteContext(ctx, session),
            expected_version=if_match,
        )

    return await services.in_transaction(session, work)


async def conditional_update(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    condition: str,
    body: dict[str, Any],
    if_match: int | None = None,
    session: Session | None = None,
    assigned_id: str | None = None,
) -> WriteResult:
    """``PUT [type]?query``: update the one match, create when none, 412 when several.

    With no match, the resource is created under the body's id (or ``assigned_id``, or a new one):
    the write door decides whether the caller may use that id, exactly as for a plain PUT."""
    services.guard.require(ctx, Interaction.UPDATE, resource_type)
    params = parse_condition(condition)
    services.gate.check_search(ctx, resource_type, params)  # a refused condition, before the body
    resource = await prepare_write(services, ctx, resource_type, body, Interaction.UPDATE)

    async def work(session: Session) -> WriteResult:
        match = await match_one(services, ctx, resource_type, params, session)
        body_id = resource.get("id")
        wctx = WriteContext(ctx, session)
        if match is None:
            target = body_id if isinstance(body_id, str) else assigned_id
            if target is None:
                return await services.repository.create(
                    resource_type=resource_type, resource=resource, wctx=wctx
                )
            check_id(target)
            return await services.repository.update(
                resource_type=resource_type,
                resource_id=target,
                resource={**resource, "id": target},
                wctx=wctx,
                method="POST" if target == assigned_id and body_id is None else "PUT",
            )
        if body_id is not None and body_id != match:
            raise BadRequest(f"the resource id '{body_id}' differs from the matching resource's id", ("id",))
        return await services.repository.update(
            resource_type=resource_type,
            resource_id=match,
            resource={**resource, "id": match},
            wctx=wctx,
            expected_version=if_match,
        )

    return await services.in_transaction(session, work)


# ----- delete ------------------------------------------------------------------------------------


async def delete(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    if_match: int | None = None,
    session: Session | None = None,
) -> StoredResource | None:
    """Soft delete. Refused (409) while other resources still reference this one. Deleting what
    does not exist, or what the caller may not see, deletes nothing (204, the spec's answer)."""
    services.guard.require(ctx, Interaction.DELETE, resource_type)

    async def work(session: Session) -> StoredResource | None:
        current = await _deletable(services, ctx, resource_type, resource_id, session)
        if current is None:
            if if_match is not None:
                raise PreconditionFailed(f"If-Match: {resource_type}/{resource_id} has no current version")
            return None
        return await services.repository.delete(
            resource_type=resource_type,
            resource_id=resource_id,
            expected_version=if_match,
            wctx=WriteContext(ctx, session),
        )

    return await services.in_transaction(session, work)


async def _deletable(
    services: Services, ctx: RequestContext, resource_type: str, resource_id: str, session: Session
) -> StoredResource | None:
    """The current version when the caller may see it and nothing references it, else None (409)."""
    current = await services.repository.current(
        resource_type=resource_type, resource_id=resource_id, session=session
    )
    if current is None or current.resource is None or not services.guard.can_see(ctx, current.resource):
        return None
    referrers = await services.repository.referencing(
        target=f"{resource_type}/{resource_id}", session=session
    )
    if referrers:
        visible = await _visible_keys(services, ctx, referrers, session, limit=3)
        example = f" (e.g. {', '.join(visible)})" if visible else ""
        raise Conflict(
            f"{resource_type}/{resource_id} is still referenced by other resources{example}; "
            "delete or update those first"
        )
    return current


async def _visible_keys(
    services: Services, ctx: RequestContext, keys: list[tuple[str, str]], session: Session, *, limit: int
) -> list[str]:
    """``Type/id`` of the first ``limit`` of these resources the caller may see (others stay unnamed)."""
    named: list[str] = []
    for resource_type, resource_id in keys:
        current = await services.repository.current(
            resource_type=resource_type, resource_id=resource_id, session=session
        )
        if (
            current is not None
            and current.resource is not None
            and services.guard.can_see(ctx, current.resource)
        ):
            named.append(f"{resource_type}/{resource_id}")
            if len(named) == limit:
                break
    return named


async def conditional_delete(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    condition: str,
    session: Session | None = None,
) -> list[StoredResource]:
    """``DELETE [type]?query``: delete every match (bounded); nothing matched is not an error."""
    services.guard.require(ctx, Interaction.DELETE, resource_type)
    params = parse_condition(condition)

    async def work(session: Session) -> list[StoredResource]:
        await services.repository.claim(condition_claim(resource_type), session)
        ids = await services.search.find_ids(
            resource_type=resource_type,
            params=params,
            limit=CONDITIONAL_DELETE_LIMIT + 1,
            session=session,
            ctx=ctx,
            gate=services.gate,
        )
        if len(ids) > CONDITIONAL_DELETE_LIMIT:
            raise TooCostly(f"the condition matches more than {CONDITIONAL_DELETE_LIMIT} resources")
        deleted = []
        for resource_id in ids:
            if await _deletable(services, ctx, resource_type, resource_id, session) is None:
                continue
            tombstone = await services.repository.delete(
                resource_type=resource_type, resource_id=resource_id, wctx=WriteContext(ctx, session)
            )
            if tombstone is not None:
                deleted.append(tombstone)
        return deleted

    return await services.in_transaction(session, work)
