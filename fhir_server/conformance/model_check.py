"""Base structure and data types, checked by the ``fhir.resources.R4B`` pydantic models.

Pydantic errors become issues whose ``expression`` is a FHIRPath-like location
(``Invoice.lineItem[0].sequence``). Messages come from the models and never echo input values.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from fhir_server.errors import Issue

JsonDict = dict[str, Any]

# pydantic error type -> FHIR issue type
ERROR_CODES: dict[str, str] = {
    "extra_forbidden": "structure",
    "missing": "required",
    "model_field_validation.missing": "required",
    "fhir-validation-wrong-resource-type": "invalid",
}


def _model_class(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class  # imported lazily: it loads many models

    return get_fhir_model_class(resource_type)


def location(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """pydantic's ``loc`` tuple as a FHIRPath-like expression."""
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def model_issues(resource: JsonDict) -> list[Issue]:
    """Issues found by parsing the resource with its R4B model (empty when it parses)."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return [Issue("required", "The resource has no resourceType", "error", ("resourceType",))]
    try:
        model = _model_class(resource_type)
    except (KeyError, ValueError):
        return [Issue("not-supported", f"Unknown resource type {resource_type}", "error", ("resourceType",))]
    try:
        model.model_validate(resource)
    except ValidationError as error:
        return [
            _issue(resource_type, details) for details in error.errors(include_input=False, include_url=False)
        ]
    except Exception as error:  # the models' own validators crash on some malformed input
        message = f"Invalid {resource_type}: a value has the wrong JSON type ({type(error).__name__})"
        return [Issue("structure", message, "error", (resource_type,))]
    return []


def _issue(resource_type: str, details: Any) -> Issue:
    error_type = str(details.get("type", ""))
    where = location(resource_type, tuple(details.get("loc", ())))
    code = ERROR_CODES.get(error_type, "value")
    message = (
        "Unknown element" if error_type == "extra_forbidden" else str(details.get("msg", "Invalid value"))
    )
    return Issue(code, f"{where}: {message}", "error", (where,))
