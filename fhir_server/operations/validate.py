"""``$validate`` at type and instance level: validate a resource and return an OperationOutcome.

Input: the resource as the body, or a Parameters body with ``resource``, ``mode`` and ``profile``.
At instance level without a resource, the stored current version is validated. The validator is
``app.state.validator`` (a :class:`~fhir_server.conformance.validator.ProfileValidator`).
"""

from __future__ import annotations

from typing import Any

from fhir_server.errors import BadRequest, Issue, operation_outcome
from fhir_server.interactions import crud
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.parameters import first_value

JsonDict = dict[str, Any]

DEFINITION: JsonDict = {
    "resourceType": "OperationDefinition",
    "id": "Resource-validate",
    "url": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    "version": "4.3.0",
    "name": "Validate",
    "title": "Validate a resource",
    "status": "active",
    "kind": "operation",
    "code": "validate",
    "description": (
        "Checks a resource against the R4B base definition, the profiles it claims in meta.profile and "
        "the profile given as parameter: structure, data types, cardinality, fixed and pattern values, "
        "required bindings, reference target types, slicing and FHIRPath invariants. Returns an "
        "OperationOutcome; errors in it mean the resource is not valid. Nothing is stored."
    ),
    "affectsState": False,
    "resource": ["Resource"],
    "system": False,
    "type": True,
    "instance": True,
    "parameter": [
        {"name": "resource", "use": "in", "min": 0, "max": "1", "type": "Resource",
         "documentation": "The resource to validate (or POST the resource itself as the body)."},
        {"name": "mode", "use": "in", "min": 0, "max": "1", "type": "code",
         "binding": {"strength": "required", "valueSet": "http://hl7.org/fhir/ValueSet/resource-validation-mode|4.3.0"},
         "documentation": "create | update | delete: validate as for that interaction."},
        {"name": "profile", "use": "in", "min": 0, "max": "1", "type": "uri",
         "documentation": "A profile to validate against, besides those the resource claims."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "OperationOutcome",
         "documentation": "The issues found; one informational issue when there are none."},
    ],
}  # fmt: skip

SUCCESS = Issue("informational", "Validation successful: no issues found", "information")


def outcome_for(issues: list[Issue]) -> JsonDict:
    """The OperationOutcome of a validation (FHIR needs at least one issue)."""
    return operation_outcome(issues or [SUCCESS])


def validation_inputs(call: OperationCall) -> tuple[JsonDict | None, str | None, list[str] | None]:
    """(resource, mode, profiles) from the body or the Parameters."""
    resource = call.body if call.body is not None else first_value(call.parameters, "resource")
    if resource is not None and not isinstance(resource, dict):
        raise BadRequest("The resource parameter must be a resource")
    mode = first_value(call.parameters, "mode")
    profile = first_value(call.parameters, "profile")
    return resource, (str(mode) if mode is not None else None), ([str(profile)] if profile else None)


def target_issues(call: OperationCall, resource: JsonDict) -> list[Issue]:
    """The resource must be of the type (and have the id) the URL names."""
    issues: list[Issue] = []
    resource_type = resource.get("resourceType")
    if call.resource_type is not None and resource_type != call.resource_type:
        message = f"The resource is a {resource_type}, but this is {call.resource_type}/$validate"
        issues.append(Issue("invalid", message, "error", ("resourceType",)))
    if call.resource_id is not None and resource.get("id") not in (None, call.resource_id):
        message = f"The resource id does not match the URL ({call.resource_id})"
        issues.append(Issue("invalid", message, "error", (f"{resource_type}.id",)))
    return issues


async def stored_resource(call: OperationCall) -> JsonDict:
    """The current stored version of the instance the URL names, read as a read would (what the
    caller may not see is "not known", a deletion only "gone" to who could see it)."""
    assert call.resource_type is not None and call.resource_id is not None
    stored = await crud.read(
        services=call.services,
        ctx=call.ctx,
        resource_type=call.resource_type,
        resource_id=call.resource_id,
        session=call.session,
    )
    assert stored.resource is not None
    return stored.resource


async def validate_operation(call: OperationCall) -> JsonDict:
    validator = call.services.validator
    resource, mode, profiles = validation_inputs(call)
    if resource is None:
        if call.resource_id is None:
            raise BadRequest("No resource to validate: send it as the body or the 'resource' parameter")
        resource = await stored_resource(call)
    issues = target_issues(call, resource)
    issues.extend(validator.validate(resource, profiles=profiles, mode=mode))
    return outcome_for(issues)


OPERATIONS = [
    OperationSpec(
        name="validate",
        definition=DEFINITION,
        levels=frozenset({Level.TYPE, Level.INSTANCE}),
        handler=validate_operation,
    )
]
