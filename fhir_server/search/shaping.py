"""``_summary`` and ``_elements``: shaping a resource before it leaves the server (search and read).

A shaped resource keeps ``resourceType``, ``id``, ``meta`` and its mandatory top-level elements, and
gets the ``SUBSETTED`` tag in ``meta.tag`` (so nobody mistakes it for the whole resource). The
input is never modified.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fhir_server.conformance import spec_data
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.errors import BadRequest

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
SUMMARY_MODES = frozenset({"true", "false", "text", "data", "count"})
_ALWAYS = frozenset({"resourceType", "id", "meta"})
_ELEMENT = re.compile(r"^(?:[A-Z][A-Za-z]+\.)?([a-z][A-Za-z0-9]*)$")


def parse_summary(value: str) -> str:
    """Validate a ``_summary`` value (BadRequest naming it otherwise)."""
    if value not in SUMMARY_MODES:
        raise BadRequest("_summary takes true, false, text, data or count", ("_summary",))
    return value


def parse_elements(value: str) -> list[str]:
    """Validate ``_elements`` (``name,birthDate`` or ``Patient.name``): top-level element names."""
    names: list[str] = []
    for item in value.split(","):
        match = _ELEMENT.match(item.strip())
        if match is None:
            raise BadRequest(f"_elements: '{item}' is not an element name", ("_elements",))
        names.append(match.group(1))
    if not names:
        raise BadRequest("_elements: no element names", ("_elements",))
    return names


@cache
def _type_suffixes() -> frozenset[str]:
    return frozenset(n[0].upper() + n[1:] for n in spec_data.fhirpath_hints()["type_names"])


def _base_name(key: str, names: frozenset[str]) -> str:
    """``deceasedBoolean`` -> ``deceased`` when that choice element is wanted; ``_birthDate`` ->
    ``birthDate`` (a primitive's extension travels with its value)."""
    key = key.removeprefix("_")
    if key in names:
        return key
    for index in range(len(key) - 1, 0, -1):
        if key[index].isupper() and key[:index] in names and key[index:] in _type_suffixes():
            return key[:index]
    return key


def subsetted_meta(meta: Any) -> dict[str, Any]:
    """``meta`` with the SUBSETTED tag (once), for a resource shaped by ``_summary``/``_elements``."""
    tagged: dict[str, Any] = dict(meta) if isinstance(meta, dict) else {}
    tags = [t for t in tagged.get("tag", []) if t.get("code") != "SUBSETTED"]
    tagged["tag"] = [*tags, SUBSETTED]
    return tagged


def _keep(resource: dict[str, Any], wanted: frozenset[str]) -> dict[str, Any]:
    shaped = {
        key: value for key, value in resource.items() if key in _ALWAYS or _base_name(key, wanted) in wanted
    }
    shaped["meta"] = subsetted_meta(resource.get("meta"))
    return shaped


def shape_resource(
    resource: dict[str, Any],
    *,
    summary: str | None,
    elements: list[str] | None,
    registry: ConformanceRegistry,
) -> dict[str, Any]:
    """The resource as ``_summary`` / ``_elements`` ask (unchanged when neither applies)."""
    resource_type = resource.get("resourceType", "")
    mandatory = registry.mandatory_elements(resource_type)
    if summary in (None, "false", "count"):
        if not elements:
            return resource
        return _keep(resource, frozenset(elements) | mandatory)
    if summary == "true":
        return _keep(resource, registry.summary_elements(resource_type) | mandatory)
    if summary == "text":
        return _keep(resource, frozenset({"text"}) | mandatory)
    if summary == "data":
        shaped = {key: value for key, value in resource.items() if key != "text"}
        shaped["meta"] = subsetted_meta(resource.get("meta"))
        return shaped
    raise BadRequest(f"_summary: unknown mode {summary!r}", ("_summary",))
