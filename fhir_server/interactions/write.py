"""The validate step of the pipeline: what every incoming resource passes before it is written.

Create, update, patch results, bundle entries, operations and imports all call
:func:`prepare_write`, so one resource meets the same checks whatever path brought it.
"""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction, RequestContext
from fhir_server.resources import check_resource_type, validate_structure
from fhir_server.services import Services


async def prepare_write(
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    body: dict[str, Any],
    interaction: Interaction,
) -> dict[str, Any]:
    """The resource to store: validated (400/422 when it is not valid FHIR or breaks a rule the
    server enforces), checked against the caller's write scopes, and transformed (e.g. inline
    attachment bytes moved to the blob store). Nothing is written yet."""
    check_resource_type(body, resource_type)
    validate_structure(body)
    services.gate.check_write(ctx, interaction, body)
    for check in services.write_checks:
        await check(ctx, body)
    for transform in services.write_transforms:
        body = await transform(ctx, body)
    return body
