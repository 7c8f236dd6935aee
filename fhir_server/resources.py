"""Base validation of incoming resources against the R4B structure (``fhir.resources.R4B``)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhir_server.errors import BadRequest, Issue

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@cache
def _model(resource_type: str) -> Any:
    return get_fhir_model_class(resource_type)


def expression_path(resource_type: str, location: tuple[int | str, ...]) -> str:
    """A pydantic error location as a FHIRPath-like expression: ``Patient.name[0].family``."""
    path = resource_type
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith("function-"):  # pydantic's validator names are not elements
            path += f".{part}"
    return path


def check_resource_type(resource: dict[str, Any], expected: str | None) -> str:
    """The resource's type; 400 when it is missing, not a string, or differs from the URL's."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise BadRequest("the resource has no resourceType", ("resourceType",))
    if expected is not None and resource_type != expected:
        raise BadRequest(
            f"resourceType '{resource_type}' does not match the type '{expected}' in the URL",
            ("resourceType",),
        )
    return resource_type


def check_id(resource_id: str) -> None:
    if not ID_PATTERN.match(resource_id):
        raise BadRequest("a resource id is 1-64 characters of A-Z, a-z, 0-9, '-' and '.'", ("id",))


def validate_structure(resource: dict[str, Any]) -> None:
    """Raise 400 with one issue per structural error (unknown element, wrong type, bad format)."""
    resource_type = check_resource_type(resource, None)
    try:
        model = _model(resource_type)
    except (ValueError, KeyError, AttributeError):
        raise BadRequest(f"'{resource_type}' is not a FHIR R4B resource type", ("resourceType",)) from None
    try:
        model.model_validate(resource)
    except ValidationError as error:
        issues = [
            Issue("structure", f"{detail['msg']}", "error", (expression_path(resource_type, detail["loc"]),))
            for detail in error.errors(include_url=False)
        ]
        first, rest = issues[0], issues[1:]
        raise BadRequest(
            f"invalid {resource_type}: {first.diagnostics}", first.expression, extra_issues=rest
        ) from None
    except (TypeError, ValueError) as error:  # fhir.resources raises these for some malformed primitives
        raise BadRequest(f"invalid {resource_type}: {error}", (resource_type,)) from None
