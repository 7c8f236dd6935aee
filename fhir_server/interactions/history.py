"""``_history`` at instance, type and system level, as a ``history`` Bundle with keyset paging."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from fhir_server.context import Interaction, RequestContext
from fhir_server.errors import BadRequest, Issue
from fhir_server.fhirdates import parse_instant
from fhir_server.guard import not_known
from fhir_server.services import Services
from fhir_server.store.repository import Session, StoredResource, instant

HISTORY_PARAMS = {"_since", "_at", "_count", "_page", "_format", "_pretty"}


def _encode_page(after: tuple[datetime, str]) -> str:
    moment, history_id = after
    raw = orjson.dumps([int(moment.timestamp() * 1000), history_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_page(token: str) -> tuple[datetime, str]:
    try:
        millis, history_id = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return datetime.fromtimestamp(int(millis) / 1000, UTC), str(history_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadRequest("_page: the page token is not valid", ("_page",)) from None


def _count(value: str | None, services: Services) -> int:
    if value is None:
        return services.settings.default_page_size
    if not (value.isascii() and value.isdigit()):
        raise BadRequest("_count must be a non-negative integer", ("_count",))
    return min(int(value), services.settings.max_page_size)


def _entry(ctx: RequestContext, version: StoredResource) -> dict[str, Any]:
    url = f"{version.resource_type}/{version.id}"
    method = version.method or "PUT"
    entry: dict[str, Any] = {"fullUrl": f"{ctx.base_url}/{url}"}
    if version.resource is not None:
        entry["resource"] = version.resource
    entry["request"] = {"method": method, "url": url if method != "POST" else version.resource_type}
    status = {"POST": "201 Created", "DELETE": "204 No Content"}.get(method, "200 OK")
    entry["response"] = {
        "status": status,
        "etag": version.etag,
        "lastModified": instant(version.last_updated),
    }
    return entry


async def _visible(services: Services, ctx: RequestContext, version: StoredResource) -> bool:
    """A version may be shown when the caller may see it; a deletion when it could see what was deleted."""
    if version.resource is not None:
        return services.guard.can_see(ctx, version.resource)
    return await services.guard.saw_before_deletion(ctx, version)


async def history(
    *,
    services: Services,
    ctx: RequestContext,
    resource_type: str | None,
    resource_id: str | None,
    params: list[tuple[str, str]],
    session: Session | None = None,
) -> dict[str, Any]:
    """The versions newest first. Unknown parameters are refused unless the caller is lenient."""
    interaction = (
        Interaction.HISTORY_INSTANCE
        if resource_id
        else Interaction.HISTORY_TYPE
        if resource_type
        else Interaction.HISTORY_SYSTEM
    )
    services.guard.require(ctx, interaction, resource_type)
    values = dict(params)
    ignored = [name for name, _ in params if name not in HISTORY_PARAMS]
    if ignored and not ctx.lenient:
        raise BadRequest(f"unknown _history parameter '{ignored[0]}'", (ignored[0],))
    if resource_type and resource_id:
        current = await services.repository.current(
            resource_type=resource_type, resource_id=resource_id, session=session
        )
        # A resource the caller may not see is "not known", exactly like one that never existed.
        if current is None or not await _visible(services, ctx, current):
            raise not_known(resource_type, resource_id)
    count = _count(values.get("_count"), services)
    since = parse_instant(values["_since"], name="_since") if "_since" in values else None
    at = parse_instant(values["_at"], name="_at") if "_at" in values else None
    after = _decode_page(values["_page"]) if "_page" in values else None
    versions = await services.repository.history(
        resource_type=resource_type, resource_id=resource_id, since=since, at=at, count=count, after=after
    )
    entries = [_entry(ctx, version) for version in versions if await _visible(services, ctx, version)]
    path = "/".join(part for part in (resource_type, resource_id, "_history") if part)
    kept = [(name, value) for name, value in params if name in HISTORY_PARAMS and name != "_page"]
    links = [
        {"relation": "self", "url": f"{ctx.base_url}/{path}" + (f"?{urlencode(params)}" if params else "")}
    ]
    if len(versions) == count and versions:
        last = versions[-1]
        token = _encode_page((last.last_updated, services.repository.history_key(last)))
        links.append(
            {"relation": "next", "url": f"{ctx.base_url}/{path}?{urlencode([*kept, ('_page', token)])}"}
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "link": links, "entry": entries}
    if ignored:
        issue = Issue("not-supported", f"ignored parameters: {', '.join(ignored)}", "warning")
        outcome = {"resourceType": "OperationOutcome", "issue": [issue.to_fhir()]}
        bundle["entry"].append({"resource": outcome, "search": {"mode": "outcome"}})
    return bundle
