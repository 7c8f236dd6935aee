"""The validate step of the pipeline: what every incoming resource passes before it is written.

Create, update, patch results, bundle entries, operations and imports all call
:func:`prepare_write`, so one resource meets the same checks whatever path brought it.
"""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction, RequestContext
from fhir_server.resources import check_resource_type
from fhir_server.services import Services


async def prepare_write(
    services: Services,
    ctx: RequestContext,
    resource_type: str,
    body: dict[str, Any],
    interaction: Interaction,
) -> dict[str, Any]:
    """The resource to store: validated (400 when it is not valid FHIR, 422 when it breaks a
    profile it claims, the settings require or its content makes it; the clinic profile is then
    recorded in ``meta.profile``), checked against the caller's write scopes, past the clinic's
    rules, and transformed (e.g. inline attachment bytes moved to the blob store). Nothing is
    written yet; what is stored is exactly what was validated."""
    check_resource_type(body, resource_type)
    body = services.validator.validate_for_write(body)
    services.gate.check_write(ctx, interaction, body)
    for check in services.write_checks:
        await check(ctx, body)
    for transform in services.write_transforms:
        body = await transform(ctx, body)
    return body
