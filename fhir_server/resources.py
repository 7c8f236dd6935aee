"""Resource basics on the write path: resource type and id checks, and the base validation step.

``validate_structure`` is the JSON and base-definition half of
:meth:`~fhir_server.conformance.validator.ProfileValidator.validate_for_write` (400 when the body
is not valid FHIR): strict JSON types, no null or empty values, known elements only, primitive
formats, cardinality, required bindings, base invariants. Nothing is coerced: what passes is
stored exactly as it was received.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import BadRequest

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@cache
def _base_validator() -> ProfileValidator:
    """The base rules need no settings; one validator per process serves every app."""
    return ProfileValidator.from_directories()


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
    """Raise InvalidResource (400, one issue per problem) unless the resource is valid FHIR."""
    check_resource_type(resource, None)
    _base_validator().check_base(resource)
