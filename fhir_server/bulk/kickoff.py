"""The kick-off: an ``$export`` call's parameters checked and resolved into an :class:`ExportRequest`.

Strict by default: an unknown parameter, type, output format, ``_typeFilter`` search or element
name is refused (400) naming it, and a requested type the token may not read is refused (403).
Under ``Prefer: handling=lenient`` those are left out instead and reported in the manifest's
``error`` file. Types the caller may not read that it did not ask for by name are simply not
exported: what a caller may not see is never mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from fhir_server.bulk.request import ALL_TYPES, ExportLevel, ExportRequest, ParamSet, Requester
from fhir_server.errors import BadRequest, FhirError, Forbidden
from fhir_server.fhirdates import parse_instant
from fhir_server.guard import not_known
from fhir_server.interactions.operation import OperationCall
from fhir_server.store.references import reference_key

OUTPUT_FORMATS: Final = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
PASS_THROUGH: Final = frozenset({"_format", "_pretty"})
KNOWN: Final = frozenset(
    {"_outputFormat", "_since", "_type", "_elements", "_typeFilter", "patient", "includeAssociatedData"}
)
# "Observation?code=x,y,MedicationRequest?status=active": split where a new "Type?" starts.
_FILTER_SPLIT: Final = re.compile(r",(?=[A-Z][A-Za-z]{1,63}\?)")
_ELEMENT: Final = re.compile(r"^(?:([A-Z][A-Za-z]{1,63})\.)?([a-z][A-Za-z0-9]*)$")


@dataclass
class _Reading:
    """The parameters as read so far, and what lenient handling dropped."""

    lenient: bool
    issues: list[str] = field(default_factory=list)

    def problem(self, error: FhirError) -> None:
        """Refuse (strict), or note it for the error file (lenient)."""
        if not self.lenient:
            raise error
        self.issues.append(f"{error.diagnostics} (left out)")


def input_pairs(call: OperationCall) -> list[tuple[str, str]]:
    """The operation's input as (name, value) pairs: the query string (GET), a form, or a
    Parameters body (POST), whose references and booleans become strings."""
    pairs = list(call.call.params)
    body = call.call.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for entry in body.get("parameter") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise BadRequest("each Parameters.parameter needs a name", ("Parameters.parameter",))
            pairs.append((entry["name"], _value_text(entry)))
    return pairs


def _value_text(entry: dict[str, Any]) -> str:
    for key, value in entry.items():
        if key == "valueReference" and isinstance(value, dict):
            return str(value.get("reference", ""))
        if key == "valueBoolean" and isinstance(value, bool):
            return "true" if value else "false"
        if key.startswith("value") and isinstance(value, str | int):
            return str(value)
    raise BadRequest(f"parameter '{entry.get('name')}' has no value this operation reads", (entry["name"],))


async def read_request(call: OperationCall, *, level: ExportLevel) -> ExportRequest:
    """Check the kick-off and resolve it into what the job will export (raises FhirError)."""
    ctx = call.ctx
    reading = _Reading(lenient=ctx.lenient)
    pairs = input_pairs(call)
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in PASS_THROUGH:
            continue
        if name not in KNOWN:
            reading.problem(BadRequest(f"$export does not take the parameter '{name}'", (name,)))
            continue
        values.setdefault(name, []).append(value)
    for name in ("_outputFormat", "_since"):
        if len(values.get(name, [])) > 1:
            raise BadRequest(f"{name} may be given once", (name,))
    output_format = (values.get("_outputFormat") or ["application/fhir+ndjson"])[0]
    if output_format.strip().lower() not in OUTPUT_FORMATS:
        raise BadRequest(
            f"_outputFormat '{output_format}' is not produced; use application/fhir+ndjson",
            ("_outputFormat",),
        )
    since = parse_instant(values["_since"][0], name="_since") if values.get("_since") else None
    if values.get("includeAssociatedData"):
        reading.problem(
            BadRequest("includeAssociatedData is not supported by this server", ("includeAssociatedData",))
        )
    requested = _types(call, values.get("_type", []), reading)
    filters = _filters(call, values.get("_typeFilter", []), requested, reading)
    elements = _elements(call, values.get("_elements", []), reading)
    patients = _patients(call, values.get("patient", []), level)
    group = None
    if level is ExportLevel.GROUP:
        group = call.resource_id
        members = await group_members(call)
        patients = members if patients is None else [p for p in patients if p in set(members)]
    types = await _plan(call, level, requested, reading)
    return ExportRequest(
        level=level,
        request_url=_request_url(call),
        transaction_time=datetime.now(UTC),
        requester=Requester.of(ctx.principal),
        types=types,
        since=since,
        filters={t: sets for t, sets in filters.items() if t in types},
        elements=elements,
        group=group,
        patients=patients,
        issues=reading.issues,
        lenient=reading.lenient,
    )


def _request_url(call: OperationCall) -> str:
    url = f"{call.ctx.base_url}/{call.call.target.path()}"
    query = [(n, v) for n, v in call.call.params if n not in PASS_THROUGH]
    return f"{url}?{urlencode(query)}" if query else url


def _split(values: Iterable[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _types(call: OperationCall, values: list[str], reading: _Reading) -> list[str] | None:
    if not values:
        return None
    registry = call.services.registry
    known: list[str] = []
    for name in _split(values):
        if registry.is_resource_type(name):
            known.append(name)
        else:
            reading.problem(BadRequest(f"_type: '{name}' is not a resource type", ("_type",)))
    if not known:
        raise BadRequest("_type names no resource type this server knows", ("_type",))
    return list(dict.fromkeys(known))


def _filters(
    call: OperationCall, values: list[str], requested: list[str] | None, reading: _Reading
) -> dict[str, list[ParamSet]]:
    registry = call.services.registry
    filters: dict[str, list[ParamSet]] = {}
    for value in values:
        for item in _FILTER_SPLIT.split(value):
            resource_type, mark, query = item.strip().partition("?")
            if not mark or not registry.is_resource_type(resource_type):
                reading.problem(BadRequest(f"_typeFilter '{item}' is not Type?search", ("_typeFilter",)))
                continue
            if requested is not None and resource_type not in requested:
                reading.problem(
                    BadRequest(f"_typeFilter names {resource_type}, which _type leaves out", ("_typeFilter",))
                )
                continue
            params = parse_qsl(query, keep_blank_values=True)
            try:
                call.services.search.check_filters(resource_type, [params])
            except BadRequest as error:
                reading.problem(
                    BadRequest(f"_typeFilter {resource_type}: {error.diagnostics}", ("_typeFilter",))
                )
                continue
            filters.setdefault(resource_type, []).append(params)
    return filters


def _elements(call: OperationCall, values: list[str], reading: _Reading) -> dict[str, list[str]]:
    registry = call.services.registry
    elements: dict[str, list[str]] = {}
    for item in _split(values):
        match = _ELEMENT.match(item)
        if match is None or (match.group(1) and not registry.is_resource_type(match.group(1))):
            reading.problem(BadRequest(f"_elements: '{item}' is not an element name", ("_elements",)))
            continue
        elements.setdefault(match.group(1) or ALL_TYPES, []).append(match.group(2))
    return elements


def _patients(call: OperationCall, values: list[str], level: ExportLevel) -> list[str] | None:
    if not values:
        return None
    if level is ExportLevel.SYSTEM:
        raise BadRequest("patient is a parameter of Patient/$export and Group/[id]/$export", ("patient",))
    ids: list[str] = []
    for value in _split(values):
        key = reference_key(value, call.ctx.base_url)
        if key is None or not key.startswith("Patient/"):
            raise BadRequest(f"patient: '{value}' is not a reference to a Patient here", ("patient",))
        ids.append(key.removeprefix("Patient/"))
    return list(dict.fromkeys(ids))


async def group_members(call: OperationCall) -> list[str]:
    """The ids of the Group's current Patient members (404 when the caller may not see it)."""
    services = call.services
    assert call.resource_id is not None
    stored = await services.repository.current(resource_type="Group", resource_id=call.resource_id)
    if stored is None or stored.resource is None:
        raise not_known("Group", call.resource_id)
    group = services.guard.visible(call.ctx, stored).resource or {}
    ids: list[str] = []
    for member in group.get("member") or []:
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        reference = (member.get("entity") or {}).get("reference")
        key = reference_key(reference, call.ctx.base_url) if isinstance(reference, str) else None
        if key is not None and key.startswith("Patient/"):
            ids.append(key.removeprefix("Patient/"))
    return list(dict.fromkeys(ids))


async def _plan(
    call: OperationCall, level: ExportLevel, requested: list[str] | None, reading: _Reading
) -> list[str]:
    """The types to export: asked for (or all that apply to the level), and readable by the caller."""
    services = call.services
    if level is ExportLevel.SYSTEM:
        candidates = requested or await services.repository.known_types()
    else:
        members = ["Patient", *services.registry.compartment_member_types("Patient")]
        if requested is not None:
            for name in requested:
                if name not in members:
                    reading.problem(
                        BadRequest(f"_type: {name} is not in the Patient compartment", ("_type",))
                    )
            candidates = [name for name in requested if name in members]
        else:
            stored = set(await services.repository.known_types())
            candidates = [name for name in members if name in stored]
    types: list[str] = []
    for name in dict.fromkeys(candidates):
        try:
            services.gate.search_constraint(call.ctx, name)
        except Forbidden:
            if requested is not None:
                reading.problem(Forbidden(f"the granted scopes do not permit exporting {name}", ("_type",)))
            continue
        types.append(name)
    if not types and requested is None and not _anything_readable(call):
        raise Forbidden("the granted scopes do not permit exporting any resource type")
    return types


def _anything_readable(call: OperationCall) -> bool:
    """Whether the caller could read some type at all (an empty server still exports nothing)."""
    services = call.services
    for name in services.registry.resource_types():
        try:
            services.gate.search_constraint(call.ctx, name)
        except Forbidden:
            continue
        return True
    return False
