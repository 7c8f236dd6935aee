"""The official patch test cases from ../shared/reference/patch-tests, as pytest parameters."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .fhir_xml import FHIR_NS, resource_from_xml

PATCH_TESTS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "patch-tests"
JSON_PATCH_FILE = PATCH_TESTS / "json-patch-tests.json"
FHIR_PATCH_FILE = PATCH_TESTS / "fhir-patch-tests.xml"
_ABSENT = pytest.mark.skip(reason=f"the shared reference test cases are not at {PATCH_TESTS}")


@dataclass(frozen=True)
class FhirPatchCase:
    name: str
    resource: dict[str, Any]
    parameters: dict[str, Any]
    expected: dict[str, Any] | None  # None when the case expects an error
    error: str | None


def json_patch_cases() -> list[Any]:
    if not JSON_PATCH_FILE.exists():
        return [pytest.param(None, marks=_ABSENT, id="absent")]
    cases = json.loads(JSON_PATCH_FILE.read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["comment"]) for case in cases]


def fhir_patch_cases() -> list[Any]:
    if not FHIR_PATCH_FILE.exists():
        return [pytest.param(None, marks=_ABSENT, id="absent")]
    root = ET.parse(FHIR_PATCH_FILE).getroot()
    return [pytest.param(_fhir_case(case), id=case.attrib["name"]) for case in root.iter("case")]


def _fhir_case(case: ET.Element) -> FhirPatchCase:
    def only_resource(section: str) -> dict[str, Any]:
        holder = case.find(section)
        assert holder is not None, f"case {case.attrib['name']} has no <{section}>"
        (resource,) = [child for child in holder if child.tag.startswith(f"{{{FHIR_NS}}}")]
        return resource_from_xml(resource)

    error = case.find("error")
    return FhirPatchCase(
        name=case.attrib["name"],
        resource=only_resource("input"),
        parameters=only_resource("diff"),
        expected=None if error is not None else only_resource("output"),
        error=error.attrib.get("msg") if error is not None else None,
    )
