"""The official FHIRPath test suite for R4B (``shared/reference/fhirpath-tests``), loaded as cases.

Each ``<test>`` becomes a :class:`SuiteCase`. Inputs are the JSON forms the suite's README names;
the two inputs published only as XML (``parameters-example-types.xml`` and
``patient-example-period.xml``) are converted to JSON here with the R4B model.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from tests.fhirpath.xml_input import xml_to_json
from tests.support import SHARED

SUITE_DIR = SHARED / "reference" / "fhirpath-tests"
SUITE_FILE = SUITE_DIR / "tests-fhir-r4b.xml"

# The suite names XML inputs; these are their published JSON forms (see the suite's README).
JSON_INPUTS = {
    "patient-example.xml": "Patient-example.json",
    "questionnaire-example.xml": "Questionnaire-3141.json",
    "valueset-example-expansion.xml": "ValueSet-example-expansion.json",
}
# Converted from the suite's XML at run time: the two without a JSON form, and two whose published
# JSON differs from the suite's edited XML (the observation lacks the patient-age extension that
# testFHIRPathIsFunction8-10 read; the code system lacks the nested concepts testCombine1 counts).
XML_ONLY_INPUTS = frozenset(
    {
        "parameters-example-types.xml",
        "patient-example-period.xml",
        "observation-example.xml",
        "codesystem-example.xml",
    }
)


@dataclass(frozen=True, slots=True)
class Expected:
    type: str
    text: str


@dataclass(frozen=True, slots=True)
class SuiteCase:
    name: str
    group: str
    expression: str
    input_file: str | None
    invalid: str | None  # syntax | semantic | execution | true: the expression must fail
    predicate: bool
    mode: str | None
    check_ordered_functions: bool
    outputs: tuple[Expected, ...]


def load_cases() -> list[SuiteCase]:
    """Every ``<test>`` of the suite, in document order."""
    root = ET.parse(SUITE_FILE).getroot()
    cases: list[SuiteCase] = []
    for group in root.iter("group"):
        for test in group.findall("test"):
            expression = test.find("expression")
            assert expression is not None
            if test.get("ordered") == "false":
                ORDERED[test.get("name", "")] = False
            cases.append(
                SuiteCase(
                    name=test.get("name", ""),
                    group=group.get("name", ""),
                    expression=expression.text or "",
                    input_file=test.get("inputfile"),
                    invalid=expression.get("invalid"),
                    predicate=test.get("predicate") == "true",
                    mode=test.get("mode") or expression.get("mode"),
                    check_ordered_functions=test.get("checkOrderedFunctions") == "true",
                    outputs=tuple(
                        Expected(output.get("type", ""), output.text or "")
                        for output in test.findall("output")
                    ),
                )
            )
    return cases


@cache
def _input(name: str) -> Any:
    if name in XML_ONLY_INPUTS:
        return xml_to_json((SUITE_DIR / name).read_text(encoding="utf-8"))
    return orjson.loads(Path(SUITE_DIR / JSON_INPUTS.get(name, name)).read_bytes())


def load_input(name: str | None) -> Any:
    """A fresh copy of the named input resource (None: no input)."""
    if name is None:
        return None
    return copy.deepcopy(_input(name))


# ----- comparing results with the expected outputs ---------------------------------------------

_SYSTEM_TO_SUITE = {
    "Boolean": "boolean",
    "Integer": "integer",
    "Decimal": "decimal",
    "String": "string",
    "Date": "date",
    "DateTime": "dateTime",
    "Time": "time",
    "Quantity": "Quantity",
}


@dataclass(frozen=True, slots=True)
class Actual:
    """One result item as (suite type name or None when unknown, value text)."""

    type: str | None
    text: str


def _same_value(expected: Expected, actual: Actual) -> bool:
    if expected.type in ("decimal", "integer", "") and _is_number(expected.text) and _is_number(actual.text):
        return Decimal(expected.text) == Decimal(actual.text)
    if expected.type == "Quantity" or (expected.type == "" and "'" in expected.text):
        return _quantity_key(expected.text) == _quantity_key(actual.text)
    return expected.text == actual.text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _quantity_key(text: str) -> tuple[Decimal, str] | str:
    number, _, unit = text.partition(" ")
    return (Decimal(number), unit) if _is_number(number) else text


def matches(case: SuiteCase, actual: list[Actual], *, check_types: bool) -> bool:
    """Whether results equal the expected outputs (in order, unless the case says otherwise)."""
    expected = list(case.outputs)
    if len(expected) != len(actual):
        return False

    def same(e: Expected, a: Actual) -> bool:
        if check_types and e.type and a.type is not None and e.type != a.type:
            return False
        return _same_value(e, a)

    if ORDERED.get(case.name, True):
        return all(same(e, a) for e, a in zip(expected, actual, strict=True))
    remaining = list(actual)
    for e in expected:
        hit = next((a for a in remaining if same(e, a)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True


ORDERED: dict[str, bool] = {}  # filled by load_cases for tests marked ordered="false"
