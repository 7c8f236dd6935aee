"""PATCH: JSON Patch (RFC 6902) or FHIRPath Patch (a Parameters body) on one resource."""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import BadRequest, Gone, NotFound, PreconditionFailed
from fhir_server.interactions.crud import _check_may_replace, _match_one, _prepare, parse_condition
from fhir_server.patch.fhirpath_patch import apply_fhirpath_patch
from fhir_server.patch.json_patch import apply_json_patch
from fhir_server.services import Services, Session
from fhir_server.store.repository import WriteResult


def _apply(resource: dict[str, Any], patch: Any, *, json_patch: bool) -> dict[str, Any]:
    if json_patch:
        return apply_json_patch(resource, patch)
    if not isinstance(patch, dict) or patch.get("resourceType") != "Parameters":
        raise BadRequest(
            "a FHIRPath Patch body is a Parameters resource (or send application/json-patch+json)"
        )
    return apply_fhirpath_patch(resource, patch)


async def patch(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str | None,
    condition: str | None,
    patch_body: Any,
    json_patch: bool,
    if_match: int | None = None,
    session: Session | None = None,
) -> WriteResult:
    """Apply a patch to the current version; the result is validated like any update."""
    services.gate.require(ctx, Interaction.PATCH, resource_type)
    params = parse_condition(condition) if condition is not None else None
    await services.repository.ensure_collections([resource_type])

    async def work(session: Session) -> WriteResult:
        target = resource_id
        if params is not None:
            target = await _match_one(services, resource_type, params, session, ctx=ctx)
            if target is None:
                raise PreconditionFailed(f"the condition matches no {resource_type}")
        assert target is not None
        current = await _check_may_replace(services, ctx, resource_type, target, session)
        if current is None:
            raise NotFound(f"{resource_type}/{target} is not known")
        if current.resource is None:
            raise Gone(f"{resource_type}/{target} was deleted")
        if if_match is not None and current.version != if_match:
            raise PreconditionFailed(
                f"If-Match expected version {if_match}, the current one is {current.version}"
            )
        patched = _apply(current.resource, patch_body, json_patch=json_patch)
        if patched.get("id") != target or patched.get("resourceType") != resource_type:
            raise BadRequest("a patch may not change the resource's id or type")
        resource = await _prepare(services, ctx, resource_type, patched, Interaction.PATCH)
        return await services.repository.replace(
            existing=current,
            resource_type=resource_type,
            resource_id=target,
            resource=resource,
            expected_version=current.version,
            session=session,
            method="PATCH",
        )

    return await services.in_transaction(session, work)
