"""``Patient/[id]/$everything`` and ``Encounter/[id]/$everything``: the whole record, paged.

A page is a page of the compartment search ``[base]/Patient/[id]/*`` (the same keyset paging,
access constraint and gate as any search), restricted by ``_type`` and ``_since``, plus the
resources that page's entries reference (Practitioner, Organization, Location, Medication ...),
each of them also passed through the gate. ``_count`` sizes the page; the links lead to the next
page of ``$everything``. The focal resource itself is on the first page (it belongs to its own
compartment).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

from fhir_server.bulk.kickoff import input_pairs
from fhir_server.errors import BadRequest, Forbidden, Issue, operation_outcome
from fhir_server.fhirdates import parse_instant
from fhir_server.guard import not_known
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.interactions.outcome import Outcome
from fhir_server.store.references import outgoing_references
from fhir_server.store.repository import instant

PAGE: Final = "_page"
_SAFE: Final = "/:|,$*"
KNOWN: Final = frozenset({"_count", "_since", "_type", PAGE})
PASS_THROUGH: Final = frozenset({"_format", "_pretty"})


def _definition(resource_type: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationDefinition",
        "id": f"{resource_type}-everything",
        "url": f"http://hl7.org/fhir/OperationDefinition/{resource_type}-everything",
        "name": f"{resource_type}Everything",
        "title": f"Everything related to a {resource_type}",
        "status": "active",
        "kind": "operation",
        "code": "everything",
        "description": (
            f"The {resource_type}, every resource in its compartment and the resources those "
            "reference, paged (_count) through the compartment search; each entry passes the "
            "caller's access rules."
        ),
        "affectsState": False,
        "system": False,
        "type": False,
        "instance": True,
        "resource": [resource_type],
        "parameter": [
            {"name": "_since", "use": "in", "min": 0, "max": "1", "type": "instant",
             "documentation": "Only resources last updated after this instant."},
            {"name": "_type", "use": "in", "min": 0, "max": "*", "type": "code",
             "documentation": "Only resources of these types (comma-separated)."},
            {"name": "_count", "use": "in", "min": 0, "max": "1", "type": "integer",
             "documentation": "Page size (the server's default and maximum apply)."},
            {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
             "documentation": "A searchset Bundle; follow its next link for more."},
        ],
    }  # fmt: skip


def _inputs(call: OperationCall) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in input_pairs(call):
        if name in PASS_THROUGH:
            continue
        if name not in KNOWN:
            if call.ctx.lenient:
                continue
            raise BadRequest(f"$everything does not take the parameter '{name}'", (name,))
        values.setdefault(name, []).append(value)
    return values


def _types(call: OperationCall, requested: list[str], compartment_type: str) -> list[str]:
    """The types to search: the compartment's (or those asked for among them) the caller may search."""
    services = call.services
    members = services.registry.compartment_member_types(compartment_type)
    wanted = [t.strip() for value in requested for t in value.split(",") if t.strip()]
    for name in wanted:
        if not services.registry.is_resource_type(name):
            raise BadRequest(f"_type: '{name}' is not a resource type", ("_type",))
    candidates = [t for t in members if t in wanted] if wanted else members
    types = [t for t in candidates if _may_search(call, t)]
    if not types and not wanted:
        raise Forbidden(f"the granted scopes do not permit searching the {compartment_type} compartment")
    return types


def _may_search(call: OperationCall, resource_type: str) -> bool:
    try:
        call.services.gate.search_constraint(call.ctx, resource_type)
    except Forbidden:
        return False
    return True


async def everything(call: OperationCall) -> Outcome:
    services = call.services
    compartment_type, focal_id = call.resource_type, call.resource_id
    assert compartment_type is not None and focal_id is not None
    focal = await services.repository.current(resource_type=compartment_type, resource_id=focal_id)
    if focal is None or focal.resource is None:
        raise not_known(compartment_type, focal_id)
    services.guard.visible(call.ctx, focal)
    values = _inputs(call)
    since = parse_instant(values["_since"][0], name="_since") if values.get("_since") else None
    requested = values.get("_type", [])
    types = _types(call, requested, compartment_type)
    if not types:
        return Outcome.ok(_empty(call))
    # The same types on every page (a page token belongs to one search): never "the types that
    # happen to be stored now".
    params: list[tuple[str, str]] = [("_type", ",".join(types))]
    if since is not None:
        params.append(("_lastUpdated", f"gt{instant(since)}"))
    for name in ("_count", PAGE):
        params += [(name, value) for value in values.get(name, [])[:1]]
    bundle = await services.search.search(
        ctx=call.ctx,
        gate=services.gate,
        resource_type=None,
        params=params,
        compartment=(compartment_type, focal_id),
    )
    entries = bundle.get("entry", [])
    wanted = {t.strip() for value in requested for t in value.split(",") if t.strip()}
    referenced, truncated = await _referenced(call, entries, wanted=wanted, since=since)
    added = [{"fullUrl": f"{call.ctx.base_url}/{r['resourceType']}/{r['id']}", "resource": r,
              "search": {"mode": "include"}} for r in referenced]  # fmt: skip
    if truncated:
        issue = Issue("too-costly", f"only the first {truncated} referenced resources were added", "warning")
        added.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": operation_outcome([issue]),
                "search": {"mode": "outcome"},
            }
        )
    if added:
        bundle["entry"] = [*entries, *added]
    link_params = [(n, v) for n, v in call.call.params if n in PASS_THROUGH]
    link_params += [(name, value) for name in ("_type", "_since", "_count") for value in values.get(name, [])]
    bundle["link"] = _links(call, bundle.get("link", []), link_params)
    return Outcome.ok(bundle)


async def _referenced(
    call: OperationCall, entries: list[dict[str, Any]], *, wanted: set[str], since: Any
) -> tuple[list[dict[str, Any]], int]:
    """The resources the page's entries reference that are not on the page, visible to the caller
    (and of the wanted types, updated since, when asked); at most the include limit of them."""
    services = call.services
    base_url = services.settings.base_url
    on_page = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries if "resource" in e}
    by_type: dict[str, list[str]] = {}
    for entry in entries:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "OperationOutcome":
            continue
        for key in outgoing_references(resource, base_url):
            resource_type, _, resource_id = key.partition("/")
            if key in on_page or (wanted and resource_type not in wanted):
                continue
            on_page.add(key)
            by_type.setdefault(resource_type, []).append(resource_id)
    limit = services.settings.include_limit
    found: list[dict[str, Any]] = []
    for resource_type, ids in sorted(by_type.items()):
        if not services.registry.is_resource_type(resource_type) or not _may_search(call, resource_type):
            continue
        for stored in await services.repository.read_many(resource_type=resource_type, resource_ids=ids):
            resource = stored.resource
            if resource is None or not services.guard.can_see(call.ctx, resource):
                continue
            if since is not None and stored.last_updated <= since:
                continue
            found.append(resource)
    found.sort(key=lambda r: (r["resourceType"], r["id"]))
    return (found[:limit], limit) if len(found) > limit else (found, 0)


def _links(
    call: OperationCall, links: Iterable[dict[str, Any]], params: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The compartment search's links, pointing at ``$everything`` with the caller's parameters."""
    base = f"{call.ctx.base_url}/{call.resource_type}/{call.resource_id}/$everything"
    rebuilt = []
    for link in links:
        token = parse_qs(urlsplit(str(link.get("url", ""))).query).get(PAGE)
        pairs = [*params, (PAGE, token[0])] if token else params
        rebuilt.append({"relation": link.get("relation"), "url": f"{base}?{urlencode(pairs, safe=_SAFE)}"})
    return rebuilt


def _empty(call: OperationCall) -> dict[str, Any]:
    base = f"{call.ctx.base_url}/{call.resource_type}/{call.resource_id}/$everything"
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 0,
        "link": [{"relation": "self", "url": base}],
    }


OPERATIONS = [
    OperationSpec(
        name="everything",
        definition=_definition("Patient"),
        variants=(_definition("Encounter"),),
        levels=frozenset({Level.INSTANCE}),
        resource_types=("Patient", "Encounter"),
        handler=everything,
    )
]
