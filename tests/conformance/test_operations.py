"""The $validate and $expand handlers, called directly (the HTTP routes are in test_validate_http)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.context import Principal, RequestContext
from fhir_server.errors import BadRequest, NotFound
from fhir_server.interactions.call import Call
from fhir_server.interactions.operation import Level, OperationCall
from fhir_server.interactions.target import Shape, Target
from fhir_server.operations import expand, validate
from fhir_server.services import Services

from .conftest import CLINIC

JsonDict = dict[str, Any]


def _call(
    validator: ProfileValidator,
    *,
    resource_type: str | None,
    resource_id: str | None = None,
    parameters: list[JsonDict] | None = None,
    body: JsonDict | None = None,
) -> OperationCall:
    shape = Shape.INSTANCE_OPERATION if resource_id is not None else Shape.TYPE_OPERATION
    target = Target(shape, resource_type, resource_id, operation="validate")
    ctx = RequestContext(principal=Principal.system(), base_url="http://test/fhir")
    return OperationCall(
        call=Call("POST", target, ctx),
        # $validate and $expand use only the validator (the stored-resource path is tested over HTTP).
        services=cast(Services, SimpleNamespace(validator=validator)),
        parameters={"resourceType": "Parameters", "parameter": parameters or []},
        body=body,
    )


async def test_validate_a_posted_resource(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    outcome = await validate.validate_operation(
        _call(validator, resource_type="Patient", body=example("clinic-patient-example"))
    )
    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": "Validation successful: no issues found",
            }
        ],
    }


async def test_validate_parameters_with_profile_and_mode(
    validator: ProfileValidator, example: Callable[[str], JsonDict]
) -> None:
    expense = example("clinic-invoice-expense-example")
    del expense["meta"], expense["date"], expense["id"]
    parameters: list[JsonDict] = [
        {"name": "resource", "resource": expense},
        {"name": "profile", "valueUri": f"{CLINIC}/StructureDefinition/clinic-invoice-expense"},
        {"name": "mode", "valueCode": "update"},
    ]
    outcome = await validate.validate_operation(
        _call(validator, resource_type="Invoice", parameters=parameters)
    )
    expressions = sorted(tuple(i.get("expression", ())) for i in outcome["issue"])
    assert expressions == [("Invoice.date",), ("Invoice.id",)]
    assert {i["severity"] for i in outcome["issue"]} == {"error"}


async def test_validate_checks_the_url_type_and_id(validator: ProfileValidator) -> None:
    call = _call(
        validator, resource_type="Observation", resource_id="a", body={"resourceType": "Patient", "id": "b"}
    )
    outcome = await validate.validate_operation(call)
    assert [i["code"] for i in outcome["issue"]] == ["invalid", "invalid"]


async def test_validate_without_resource_at_type_level_is_a_bad_request(validator: ProfileValidator) -> None:
    with pytest.raises(BadRequest):
        await validate.validate_operation(_call(validator, resource_type="Patient"))
    with pytest.raises(BadRequest):
        await validate.validate_operation(
            _call(validator, resource_type="Patient", parameters=[{"name": "resource", "valueString": "x"}])
        )


async def test_expand_by_url_with_paging(validator: ProfileValidator) -> None:
    parameters: list[JsonDict] = [
        {"name": "url", "valueString": f"{CLINIC}/ValueSet/clinic-staff-role"},
        {"name": "count", "valueString": "2"},
        {"name": "offset", "valueInteger": 1},
        {"name": "filter", "valueString": "r"},
    ]
    result = await expand.expand_operation(_call(validator, resource_type="ValueSet", parameters=parameters))
    # admin (Administrator), doctor, nurse, receptionist and lab (Laboratory staff) contain an "r"
    assert result["expansion"]["total"] == 5
    assert [c["code"] for c in result["expansion"]["contains"]] == ["doctor", "nurse"]


async def test_expand_an_instance(validator: ProfileValidator) -> None:
    result = await expand.expand_operation(
        _call(validator, resource_type="ValueSet", resource_id="clinic-income-source")
    )
    assert [c["code"] for c in result["expansion"]["contains"]] == ["lab", "donation", "service", "other"]
    with pytest.raises(NotFound):
        await expand.expand_operation(_call(validator, resource_type="ValueSet", resource_id="nope"))


async def test_expand_input_errors(validator: ProfileValidator) -> None:
    with pytest.raises(BadRequest, match="url"):
        await expand.expand_operation(_call(validator, resource_type="ValueSet"))
    bad_count: list[JsonDict] = [
        {"name": "url", "valueString": f"{CLINIC}/ValueSet/clinic-staff-role"},
        {"name": "count", "valueString": "x"},
    ]
    with pytest.raises(BadRequest, match="count"):
        await expand.expand_operation(_call(validator, resource_type="ValueSet", parameters=bad_count))


def test_operation_declarations() -> None:
    (validate_spec,) = validate.OPERATIONS
    (expand_spec,) = expand.OPERATIONS
    assert validate_spec.levels == expand_spec.levels == frozenset({Level.TYPE, Level.INSTANCE})
    assert validate_spec.resource_types is None and expand_spec.resource_types == ("ValueSet",)
    assert not validate_spec.affects_state and not expand_spec.affects_state
    assert validate_spec.definition["code"] == "validate" and expand_spec.definition["code"] == "expand"
