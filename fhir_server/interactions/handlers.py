"""The handlers of the dispatch table: one per FHIR interaction, each ``(call, pipeline) -> Outcome``.

A handler reads what it needs from the call, makes one call below (``crud``, ``history``, the
search service, Binary content) and wraps the result; rendering (ETag, ``Location``, ``Prefer``,
conditional reads) is the renderer's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from fhir_server.errors import BadRequest
from fhir_server.interactions import crud, history
from fhir_server.interactions.call import Call
from fhir_server.interactions.metadata import statement_for
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.patch import patch as patch_resource
from fhir_server.interactions.patch import patch_kind
from fhir_server.search.shaping import parse_elements, parse_summary, shape_resource

if TYPE_CHECKING:
    from fhir_server.interactions.pipeline import Pipeline

JsonDict = dict[str, Any]
# Read-time parameters: anything else on a read is refused (strict), as in search.
READ_PARAMS: Final = frozenset({"_format", "_pretty", "_summary", "_elements"})
# Parameters that shape the answer's encoding, never a condition.
FORMAT_PARAMS: Final = frozenset({"_format", "_pretty"})


def _type(call: Call) -> str:
    assert call.resource_type is not None  # the table routes only typed shapes here
    return call.resource_type


def _id(call: Call) -> str:
    assert call.resource_id is not None
    return call.resource_id


def _resource(call: Call) -> JsonDict:
    if not isinstance(call.body, dict):
        raise BadRequest("the request body must be a JSON object (a FHIR resource)")
    return call.body


def _condition(call: Call) -> list[tuple[str, str]]:
    return [(name, value) for name, value in call.params if name not in FORMAT_PARAMS]


def _shaped(call: Call, pipeline: Pipeline, resource: JsonDict) -> JsonDict:
    """``_summary`` / ``_elements`` on a read."""
    summary = call.param("_summary")
    elements = call.param("_elements")
    if summary is None and elements is None:
        return resource
    return shape_resource(
        resource,
        summary=parse_summary(summary) if summary is not None else None,
        elements=parse_elements(elements) if elements else None,
        registry=pipeline.services.registry,
    )


def _check_read_params(call: Call) -> None:
    unknown = [name for name, _ in call.params if name not in READ_PARAMS]
    if unknown and not call.ctx.lenient:
        raise BadRequest(f"unknown parameter '{unknown[0]}' on read", (unknown[0],))


# ----- reads -------------------------------------------------------------------------------------


async def read(call: Call, pipeline: Pipeline) -> Outcome:
    _check_read_params(call)
    stored = await crud.read(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        resource_id=_id(call),
        session=call.session,
    )
    assert stored.resource is not None
    return Outcome.read(stored, _shaped(call, pipeline, stored.resource))


async def vread(call: Call, pipeline: Pipeline) -> Outcome:
    _check_read_params(call)
    assert call.target.version is not None
    stored = await crud.vread(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        resource_id=_id(call),
        version=call.target.version,
        session=call.session,
    )
    assert stored.resource is not None
    return Outcome.read(stored, _shaped(call, pipeline, stored.resource))


async def search(call: Call, pipeline: Pipeline) -> Outcome:
    target = call.target
    compartment = None
    resource_type = target.resource_type
    if target.compartment_of is not None:
        assert target.resource_type is not None and target.resource_id is not None
        compartment = (target.resource_type, target.resource_id)
        resource_type = None if target.compartment_of == "*" else target.compartment_of
    services = pipeline.services
    bundle = await services.search.search(
        ctx=call.ctx,
        gate=services.gate,
        resource_type=resource_type,
        params=call.params,
        compartment=compartment,
        session=call.session,
    )
    return Outcome.ok(bundle)


async def history_of(call: Call, pipeline: Pipeline) -> Outcome:
    bundle = await history.history(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=call.resource_type,
        resource_id=call.resource_id,
        params=call.params,
        session=call.session,
    )
    return Outcome.ok(bundle)


async def capabilities(call: Call, pipeline: Pipeline) -> Outcome:
    """The CapabilityStatement, shaped by ``_summary`` / ``_elements``, with its ETag (so
    ``If-None-Match`` gets a 304 from the renderer). Other parameters (``mode`` ...) are ignored."""
    body, etag = statement_for(
        pipeline.capability_statement(),
        summary=call.param("_summary"),
        elements=call.param("_elements"),
        registry=pipeline.services.registry,
    )
    return Outcome.ok(body, etag=etag)


# ----- writes ------------------------------------------------------------------------------------


def if_none_exist(call: Call) -> str | None:
    """The condition of a create: ``If-None-Exist``, or the query string of ``POST [type]?query``
    (a conditional create as fhirpy and Aidbox send it)."""
    condition = _condition(call)
    header = call.conditions.if_none_exist
    if condition and header is not None:
        raise BadRequest("send the condition of a conditional create once: If-None-Exist or the query")
    return crud.encode_condition(condition) if condition else header


async def create(call: Call, pipeline: Pipeline) -> Outcome:
    result = await crud.create(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        body=_resource(call),
        if_none_exist=if_none_exist(call),
        session=call.session,
        assigned_id=call.assigned_id,
    )
    return Outcome.written(result)


async def update(call: Call, pipeline: Pipeline) -> Outcome:
    result = await crud.update(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        resource_id=_id(call),
        body=_resource(call),
        if_match=call.conditions.if_match,
        session=call.session,
    )
    return Outcome.written(result)


async def conditional_update(call: Call, pipeline: Pipeline) -> Outcome:
    result = await crud.conditional_update(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        condition=crud.encode_condition(_condition(call)),
        body=_resource(call),
        if_match=call.conditions.if_match,
        session=call.session,
        assigned_id=call.assigned_id,
    )
    return Outcome.written(result)


async def patch(call: Call, pipeline: Pipeline) -> Outcome:
    conditional = call.resource_id is None
    result = await patch_resource(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        resource_id=call.resource_id,
        condition=crud.encode_condition(_condition(call)) if conditional else None,
        patch_body=call.body,
        kind=patch_kind(call.content_type, call.body),
        if_match=call.conditions.if_match,
        session=call.session,
    )
    return Outcome.written(result)


async def delete(call: Call, pipeline: Pipeline) -> Outcome:
    tombstone = await crud.delete(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        resource_id=_id(call),
        if_match=call.conditions.if_match,
        session=call.session,
    )
    return Outcome.deleted(tombstone)


async def conditional_delete(call: Call, pipeline: Pipeline) -> Outcome:
    await crud.conditional_delete(
        services=pipeline.services,
        ctx=call.ctx,
        resource_type=_type(call),
        condition=crud.encode_condition(_condition(call)),
        session=call.session,
    )
    return Outcome.deleted()
