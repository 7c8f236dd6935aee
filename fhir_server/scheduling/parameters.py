"""Reading the scheduling operations' input parameters (references, instants, reasons)."""

from __future__ import annotations

from typing import Any

from fhir_server.errors import BadRequest
from fhir_server.parameters import first_value
from fhir_server.store.references import reference_key


def reference_parameter(
    parameters: dict[str, Any], name: str, resource_type: str, base_url: str
) -> str | None:
    """The id of a ``resource_type`` given as valueReference, or as a string "Type/id" or a bare id."""
    value = first_value(parameters, name)
    if value is None:
        return None
    text = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(text, str) or not text:
        raise BadRequest(f"'{name}' must reference a {resource_type}", (name,))
    key = reference_key(text if "/" in text else f"{resource_type}/{text}", base_url)
    if key is None or not key.startswith(f"{resource_type}/"):
        raise BadRequest(f"'{name}' must reference a {resource_type} on this server", (name,))
    return key.partition("/")[2]


def text_parameter(parameters: dict[str, Any], name: str) -> str | None:
    value = first_value(parameters, name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string, date or instant", (name,))
    return value


def reason_parameter(parameters: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A CodeableConcept from valueCodeableConcept, valueCoding, valueCode or valueString."""
    for entry in parameters.get("parameter", []):
        if entry.get("name") != name:
            continue
        if isinstance(entry.get("valueCodeableConcept"), dict):
            concept: dict[str, Any] = entry["valueCodeableConcept"]
            return concept
        if isinstance(entry.get("valueCoding"), dict):
            return {"coding": [entry["valueCoding"]]}
        text = entry.get("valueString", entry.get("valueCode"))
        if isinstance(text, str) and text.strip():
            return {"text": text}
        raise BadRequest(f"'{name}' must be a CodeableConcept, Coding, code or string", (name,))
    return None
