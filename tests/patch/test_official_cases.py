"""The official JSON Patch and FHIRPath Patch test cases, every one of them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_server.errors import FhirError, Unprocessable
from fhir_server.patch import apply_fhirpath_patch, apply_json_patch

from .cases import FhirPatchCase, fhir_patch_cases, json_patch_cases

# case name -> why the engine cannot apply it; such a case must raise, not pass silently
KNOWN_UNSUPPORTED: dict[str, str] = {}


@pytest.mark.parametrize("case", json_patch_cases())
def test_json_patch_case(case: dict[str, Any]) -> None:
    document = copy.deepcopy(case["doc"])
    if "error" in case:
        with pytest.raises(FhirError):
            apply_json_patch(document, case["patch"])
    else:
        assert apply_json_patch(document, case["patch"]) == case["expected"]
    assert document == case["doc"]


@pytest.mark.parametrize("case", fhir_patch_cases())
def test_fhirpath_patch_case(case: FhirPatchCase) -> None:
    resource = copy.deepcopy(case.resource)
    if case.name in KNOWN_UNSUPPORTED:
        with pytest.raises(FhirError):
            apply_fhirpath_patch(resource, case.parameters)
    elif case.error is not None:
        with pytest.raises(Unprocessable) as raised:
            apply_fhirpath_patch(resource, case.parameters)
        assert case.error in raised.value.diagnostics
        assert raised.value.expression == ("Parameters.parameter[0]",)
    else:
        assert apply_fhirpath_patch(resource, case.parameters) == case.expected
    assert resource == case.resource


@pytest.mark.parametrize("case", fhir_patch_cases())
def test_converted_cases_are_valid_fhir(case: FhirPatchCase) -> None:
    """The XML converter's output is real FHIR JSON, so the cases above test what they claim."""
    for resource in (case.resource, case.parameters, case.expected):
        if resource is not None:
            model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            assert model.get_resource_type() == resource["resourceType"]
