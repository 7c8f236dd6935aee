"""``ValueSet/$expand``: the codes of a clinic value set (or an official enumerable one).

Type level takes the canonical ``url``; instance level expands ``ValueSet/{id}`` of ``profiles/``.
``filter`` (text in code or display), ``count`` and ``offset`` page the result.
"""

from __future__ import annotations

from typing import Any

from fhir_server.errors import BadRequest, NotFound
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.parameters import first_value
from fhir_server.services import Validator

JsonDict = dict[str, Any]

DEFINITION: JsonDict = {
    "resourceType": "OperationDefinition",
    "id": "ValueSet-expand",
    "url": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
    "version": "4.3.0",
    "name": "Expand",
    "title": "Value set expansion",
    "status": "active",
    "kind": "operation",
    "code": "expand",
    "description": (
        "The codes of a value set: the clinic's value sets (profiles/) and the official R4B value sets "
        "that can be enumerated from the specification's own code systems. External terminologies "
        "(SNOMED CT, LOINC, UCUM ...) are not expanded."
    ),
    "affectsState": False,
    "resource": ["ValueSet"],
    "system": False,
    "type": True,
    "instance": True,
    "parameter": [
        {"name": "url", "use": "in", "min": 0, "max": "1", "type": "uri",
         "documentation": "Canonical URL of the value set (type level)."},
        {"name": "filter", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Only codes whose code or display contains this text (case-insensitive)."},
        {"name": "count", "use": "in", "min": 0, "max": "1", "type": "integer",
         "documentation": "Most codes to return."},
        {"name": "offset", "use": "in", "min": 0, "max": "1", "type": "integer",
         "documentation": "Codes to skip (paging)."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "ValueSet",
         "documentation": "The value set with its expansion."},
    ],
}  # fmt: skip


def _integer(call: OperationCall, name: str) -> int | None:
    value = first_value(call.parameters, name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"The {name} parameter must be an integer") from None


def value_set_url(call: OperationCall, validator: Validator) -> str:
    """The canonical URL to expand: from the instance id or the ``url`` parameter."""
    if call.resource_id is not None:
        url = validator.value_set_url(call.resource_id)
        if url is None:
            raise NotFound(f"ValueSet/{call.resource_id} is not known")
        return url
    url = first_value(call.parameters, "url")
    if not url:
        raise BadRequest("ValueSet/$expand needs the url parameter (or use ValueSet/{id}/$expand)")
    return str(url)


async def expand_operation(call: OperationCall) -> JsonDict:
    validator = call.services.validator
    url = value_set_url(call, validator)
    text_filter = first_value(call.parameters, "filter")
    return validator.expand_valueset(
        url,
        text_filter=str(text_filter) if text_filter else None,
        count=_integer(call, "count"),
        offset=_integer(call, "offset") or 0,
    )


OPERATIONS = [
    OperationSpec(
        name="expand",
        definition=DEFINITION,
        levels=frozenset({Level.TYPE, Level.INSTANCE}),
        handler=expand_operation,
        resource_types=("ValueSet",),
    )
]
