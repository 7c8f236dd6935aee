"""Resource basics on the write path: resource type and id checks (validation proper is
:meth:`~fhir_server.conformance.validator.ProfileValidator.validate_for_write`)."""

from __future__ import annotations

import re
from typing import Any

from fhir_server.errors import BadRequest

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


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
