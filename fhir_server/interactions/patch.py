"""PATCH: JSON Patch (RFC 6902), FHIRPath Patch (a Parameters body) or JSON Merge Patch (RFC 7386).

Which one is decided by the Content-Type and the body: ``application/json-patch+json`` is JSON
Patch, ``application/merge-patch+json`` a merge patch, and a FHIR JSON body is FHIRPath Patch when
it is a Parameters resource. Plain ``application/json`` is read by shape (an array: JSON Patch; a
Parameters resource: FHIRPath Patch; another object: a merge patch), as fhirpy and others send it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import BadRequest, Gone, PreconditionFailed
from fhir_server.guard import not_known
from fhir_server.interactions.crud import match_one, parse_condition
from fhir_server.interactions.write import prepare_write
from fhir_server.patch import apply_fhirpath_patch, apply_json_patch, apply_merge_patch
from fhir_server.services import Services
from fhir_server.store.repository import Session, WriteContext, WriteResult

JSON_PATCH: Final = "application/json-patch+json"
MERGE_PATCH: Final = "application/merge-patch+json"
PATCH_MEDIA_TYPES: Final = frozenset({JSON_PATCH, MERGE_PATCH})


class PatchKind(StrEnum):
    JSON = "json-patch"
    FHIRPATH = "fhirpath-patch"
    MERGE = "merge-patch"


def patch_kind(content_type: str | None, body: Any) -> PatchKind:
    if content_type == JSON_PATCH:
        return PatchKind.JSON
    if content_type == MERGE_PATCH:
        return PatchKind.MERGE
    is_parameters = isinstance(body, dict) and body.get("resourceType") == "Parameters"
    if content_type == "application/json" and not is_parameters:
        return PatchKind.JSON if isinstance(body, list) else PatchKind.MERGE
    if not is_parameters:
        raise BadRequest(
            "a FHIRPath Patch body is a Parameters resource (or send application/json-patch+json, "
            "or a resource fragment as application/merge-patch+json)"
        )
    return PatchKind.FHIRPATH


def apply_patch(resource: dict[str, Any], patch: Any, kind: PatchKind) -> dict[str, Any]:
    if kind is PatchKind.JSON:
        return apply_json_patch(resource, patch)
    if kind is PatchKind.MERGE:
        return apply_merge_patch(resource, patch)
    return apply_fhirpath_patch(resource, patch)


async def patch(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    resource_id: str | None,
    condition: str | None,
    patch_body: Any,
    kind: PatchKind,
    if_match: int | None = None,
    session: Session | None = None,
) -> WriteResult:
    """Apply a patch to the current version; the result is validated like any update."""
    services.guard.require(ctx, Interaction.PATCH, resource_type)
    params = parse_condition(condition) if condition is not None else None

    async def work(session: Session) -> WriteResult:
        target = resource_id
        if params is not None:
            target = await match_one(services, ctx, resource_type, params, session)
            if target is None:
                raise PreconditionFailed(f"the condition matches no {resource_type}")
        assert target is not None
        current = await services.repository.current(
            resource_type=resource_type, resource_id=target, session=session
        )
        if current is None:
            raise not_known(resource_type, target)
        if current.resource is None:
            if not await services.guard.saw_before_deletion(ctx, current, session):
                raise not_known(resource_type, target)
            raise Gone(f"{resource_type}/{target} was deleted")
        services.guard.visible(ctx, current)
        if if_match is not None and current.version != if_match:
            raise PreconditionFailed(
                f"If-Match expected version {if_match}, the current one is {current.version}"
            )
        # The patch applies to what the caller can see; the write door keeps what it cannot.
        visible = services.guard.redact(ctx, current.resource)
        patched = apply_patch(visible, patch_body, kind)
        if patched.get("id") != target or patched.get("resourceType") != resource_type:
            raise BadRequest("a patch may not change the resource's id or type")
        resource = await prepare_write(services, ctx, resource_type, patched, Interaction.PATCH)
        return await services.repository.replace(
            existing=current,
            resource_type=resource_type,
            resource_id=target,
            resource=resource,
            wctx=WriteContext(ctx, session),
            expected_version=current.version,
            method="PATCH",
        )

    return await services.in_transaction(session, work)
