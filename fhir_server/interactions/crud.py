"""Instance and type interactions: read, vread, create, update, patch, delete, and their conditional forms.

Business rules live here, below HTTP, so transactions and operations reuse them. Each write runs
in the caller's transaction when given one (bundles), else in its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import BadRequest, Conflict, Forbidden, Gone, NotFound, PreconditionFailed, TooCostly
from fhir_server.resources import check_id, check_resource_type, validate_structure
from fhir_server.services import Services, Session
from fhir_server.store.repository import StoredResource, WriteResult

CONDITIONAL_DELETE_LIMIT = 100


def parse_condition(query: str) -> list[tuple[str, str]]:
    """A conditional-operation query (``identifier=sys|1``) as search parameters; 400 when empty."""
    params = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if not params:
        raise BadRequest("a conditional operation needs search parameters")
    return params


def claim_key(resource_type: str, params: list[tuple[str, str]]) -> str:
    return f"{resource_type}?{urlencode(sorted(params))}"


def _invisible(resource_type: str, resource_id: str) -> NotFound:
    """What a caller who may not see a resource is told: the same as for one that does not exist."""
    return NotFound(f"{resource_type}/{resource_id} is not known")


async def _prepare(
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    body: dict[str, Any],
    interaction: Interaction,
) -> dict[str, Any]:
    """Validate and transform an incoming resource; nothing is written yet."""
    check_resource_type(body, resource_type)
    validate_structure(body)
    services.gate.check_write(ctx, interaction, body)
    for check in services.write_checks:
        await check(ctx, body)
    for transform in services.write_transforms:
        body = await transform(ctx, body)
    return body


def _visible(services: Services, ctx: RequestContext, stored: StoredResource) -> StoredResource:
    if stored.resource is not None and not services.gate.can_see(ctx, stored.resource):
        raise _invisible(stored.resource_type, stored.id)
    return stored


# ----- reads -------------------------------------------------------------------------------------


async def read(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    session: Session | None = None,
) -> StoredResource:
    services.gate.require(ctx, Interaction.READ, resource_type)
    try:
        stored = await services.repository.read(
            resource_type=resource_type, resource_id=resource_id, session=session
        )
    except Gone:
        # "Deleted" tells that the id existed: only for a caller who could see what was deleted.
        if not await _saw_before_deletion(services, ctx, resource_type, resource_id, session):
            raise _invisible(resource_type, resource_id) from None
        raise
    return _visible(services, ctx, stored)


async def _saw_before_deletion(
    services: Services, ctx: RequestContext, resource_type: str, resource_id: str, session: Session | None
) -> bool:
    tombstone = await services.repository.current(
        resource_type=resource_type, resource_id=resource_id, session=session
    )
    if tombstone is None or tombstone.version <= 1:
        return False
    try:
        before = await services.repository.vread(
            resource_type=resource_type,
            resource_id=resource_id,
            version=tombstone.version - 1,
            session=session,
        )
    except (NotFound, Gone):
        return False
    return before.resource is not None and services.gate.can_see(ctx, before.resource)


async def vread(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    version: str,
    session: Session | None = None,
) -> StoredResource:
    services.gate.require(ctx, Interaction.VREAD, resource_type)
    if not version.isdigit():
        raise NotFound(f"{resource_type}/{resource_id} has no version '{version}'")
    stored = await services.repository.vread(
        resource_type=resource_type, resource_id=resource_id, version=int(version), session=session
    )
    return _visible(services, ctx, stored)


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
    services.gate.require(ctx, Interaction.CREATE, resource_type)
    condition = parse_condition(if_none_exist) if if_none_exist is not None else None
    # The server assigns ids on create: checks and transforms never see the client's.
    body = {key: value for key, value in body.items() if key != "id"}
    resource = await _prepare(services, ctx, resource_type, body, Interaction.CREATE)
    await services.repository.ensure_collections([resource_type])

    async def work(session: Session) -> WriteResult:
        if condition is not None:
            existing = await _match_one(services, resource_type, condition, session, ctx=ctx)
            if existing is not None:
                stored = await services.repository.read(
                    resource_type=resource_type, resource_id=existing, session=session
                )
                return WriteResult(_visible(services, ctx, stored), created=False, changed=False)
        return await services.repository.create(
            resource_type=resource_type, resource=resource, session=session, resource_id=assigned_id
        )

    return await services.in_transaction(session, work)


async def _match_one(
    services: Services,
    resource_type: str,
    condition: list[tuple[str, str]],
    session: Session,
    *,
    ctx: RequestContext,
) -> str | None:
    """The id matching a condition, None for no match, 412 for several. Claims the condition first
    so that racing conditional writes of the same condition serialize (one commits, others retry).
    Only resources the caller could find by searching count: others are neither matched nor revealed."""
    await services.repository.claim(claim_key(resource_type, condition), session)
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
    method: str = "PUT",
) -> WriteResult:
    """Update (or create with the client's id). The body's id must equal the URL's."""
    services.gate.require(ctx, Interaction.UPDATE, resource_type)
    check_id(resource_id)
    if body.get("id") != resource_id:
        raise BadRequest(f"the resource id must equal the id in the URL ('{resource_id}')", ("id",))
    resource = await _prepare(services, ctx, resource_type, body, Interaction.UPDATE)
    await services.repository.ensure_collections([resource_type])

    async def work(session: Session) -> WriteResult:
        current = await _check_may_replace(services, ctx, resource_type, resource_id, session)
        return await services.repository.replace(
            existing=current,
            resource_type=resource_type,
            resource_id=resource_id,
            resource=resource,
            expected_version=if_match,
            session=session,
            method=method,
        )

    return await services.in_transaction(session, work)


async def _check_may_replace(
    services: Services, ctx: RequestContext, resource_type: str, resource_id: str, session: Session
) -> StoredResource | None:
    """The current version, after checking the caller may see and change it."""
    current = await services.repository.current(
        resource_type=resource_type, resource_id=resource_id, session=session
    )
    if current is not None and current.resource is not None:
        if not services.gate.can_see(ctx, current.resource):
            raise Forbidden(f"you may not change {resource_type}/{resource_id}")
        services.gate.check_write(ctx, Interaction.UPDATE, current.resource)
    elif current is not None and not await _saw_before_deletion(
        services, ctx, resource_type, resource_id, session
    ):
        # A deleted id of someone else's stays theirs: no taking it over by update-as-create.
        raise Forbidden(f"you may not change {resource_type}/{resource_id}")
    return current


async def conditional_update(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    condition: str,
    body: dict[str, Any],
    if_match: int | None = None,
    session: Session | None = None,
) -> WriteResult:
    """``PUT [type]?query``: update the one match, create when none, 412 when several."""
    services.gate.require(ctx, Interaction.UPDATE, resource_type)
    params = parse_condition(condition)
    resource = await _prepare(services, ctx, resource_type, body, Interaction.UPDATE)
    await services.repository.ensure_collections([resource_type])

    async def work(session: Session) -> WriteResult:
        match = await _match_one(services, resource_type, params, session, ctx=ctx)
        body_id = resource.get("id")
        if match is None and body_id is None:
            return await services.repository.create(
                resource_type=resource_type, resource=resource, session=session
            )
        if match is None:
            assert isinstance(body_id, str)
            check_id(body_id)
            return await services.repository.update(
                resource_type=resource_type, resource_id=body_id, resource=resource, session=session
            )
        if body_id is not None and body_id != match:
            raise BadRequest(f"the resource id '{body_id}' differs from the matching resource's id", ("id",))
        current = await _check_may_replace(services, ctx, resource_type, match, session)
        return await services.repository.replace(
            existing=current,
            resource_type=resource_type,
            resource_id=match,
            resource={**resource, "id": match},
            expected_version=if_match,
            session=session,
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
    """Soft delete. Refused (409) while other resources still reference this one."""
    services.gate.require(ctx, Interaction.DELETE, resource_type)
    await services.repository.ensure_collections([resource_type])

    async def work(session: Session) -> StoredResource | None:
        current = await _check_may_delete(services, ctx, resource_type, resource_id, session)
        if current is None:
            if if_match is not None:
                raise PreconditionFailed(f"If-Match: {resource_type}/{resource_id} has no current version")
            return None
        return await services.repository.delete(
            resource_type=resource_type, resource_id=resource_id, expected_version=if_match, session=session
        )

    return await services.in_transaction(session, work)


async def _check_may_delete(
    services: Services, ctx: RequestContext, resource_type: str, resource_id: str, session: Session
) -> StoredResource | None:
    current = await services.repository.current(
        resource_type=resource_type, resource_id=resource_id, session=session
    )
    if current is None or current.resource is None:
        return None
    if not services.gate.can_see(ctx, current.resource):
        raise _invisible(resource_type, resource_id)
    services.gate.check_write(ctx, Interaction.DELETE, current.resource)
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
            and services.gate.can_see(ctx, current.resource)
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
    services.gate.require(ctx, Interaction.DELETE, resource_type)
    params = parse_condition(condition)
    await services.repository.ensure_collections([resource_type])

    async def work(session: Session) -> list[StoredResource]:
        await services.repository.claim(claim_key(resource_type, params), session)
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
            if await _check_may_delete(services, ctx, resource_type, resource_id, session) is None:
                continue
            tombstone = await services.repository.delete(
                resource_type=resource_type, resource_id=resource_id, session=session
            )
            if tombstone is not None:
                deleted.append(tombstone)
        return deleted

    return await services.in_transaction(session, work)
