"""FHIR-specific behaviour the official suite touches lightly: variables, primitive extensions,
R4B types, the FHIR functions and their services, errors, and compile caching."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.fhirpath import FhirPathError, FhirServices, Node, compile_expression, to_json

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p",
    "birthDate": "1974-12-25",
    "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                  "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
    "name": [{"given": ["Peter", None], "_given": [None, {"extension": [{"url": "x", "valueString": "y"}]}]}],
    "contained": [{"resourceType": "Citation", "id": "c", "status": "active"}],
    "deceasedBoolean": False,
}  # fmt: skip


def evaluate(expression: str, focus: Any = PATIENT, **kwargs: Any) -> list[Any]:
    return [to_json(item) for item in compile_expression(expression, None).evaluate(focus, **kwargs)]


def test_environment_variables() -> None:
    name = Node(PATIENT["name"][0], "HumanName")
    compiled = compile_expression("%context.given.first() & '/' & %resource.id & '/' & %rootResource.id")
    bundle = {"resourceType": "Bundle", "id": "b"}
    result = compiled.evaluate(name, resource=PATIENT, root_resource=bundle)
    assert [to_json(i) for i in result] == ["Peter/p/b"]
    assert evaluate("%ucum") == ["http://unitsofmeasure.org"]
    assert evaluate("%`vs-administrative-gender`") == ["http://hl7.org/fhir/ValueSet/administrative-gender"]
    assert evaluate("%`ext-patient-birthTime`") == [
        "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
    ]
    assert evaluate("%limit + 1", variables={"limit": 2}) == [3]
    with pytest.raises(FhirPathError) as failure:
        evaluate("%unknown")
    assert failure.value.kind == "execution"


def test_primitive_extensions_and_has_value() -> None:
    birth_time = "birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value"
    assert evaluate(birth_time) == ["1974-12-25T14:35:45-05:00"]
    assert evaluate("name.given.count()") == [2]  # the second given has only an extension
    assert evaluate("name.given.select(hasValue())") == [True, False]
    assert evaluate("name.given[1].extension.value") == ["y"]
    assert evaluate("birthDate.hasValue() and name.hasValue().not()") == [True]


def test_r4b_types_and_choices() -> None:
    assert evaluate("contained.first() is Citation") == [True]
    assert evaluate("contained.first() is DomainResource") == [True]
    assert evaluate("deceased is boolean") == [True]
    assert evaluate("deceased.as(boolean).not()") == [True]
    assert evaluate("birthDate is date and birthDate < @2000") == [True]
    assert evaluate("Patient.deceased.type().name") == ["boolean"]


def test_the_model_catches_wrong_names_when_the_context_type_is_known() -> None:
    with pytest.raises(FhirPathError) as failure:
        compile_expression("name.given1", "Patient")
    assert failure.value.kind == "semantic"
    with pytest.raises(FhirPathError):
        compile_expression("deceasedBoolean", "Patient")  # FHIRPath names the choice: deceased
    assert compile_expression("name.given1").evaluate(PATIENT) == []  # untyped: nothing found


def test_syntax_errors_are_not_recovered_from() -> None:
    for broken in ("name.given.", "name.where((", "1 +", "name.given.first("):
        with pytest.raises(FhirPathError) as failure:
            compile_expression(broken)
        assert failure.value.kind == "syntax"


class _Services(FhirServices):
    def member_of(self, value: Any, value_set: str) -> bool | None:
        return value == "male" if value_set == "http://example.org/vs" else None

    def subsumes(self, system: str, code: str, other_code: str) -> bool | None:
        return code == "parent" and other_code == "child"


def test_services_answer_member_of_and_subsumption() -> None:
    patient = {**PATIENT, "gender": "male"}
    services = _Services()
    assert evaluate("gender.memberOf('http://example.org/vs')", patient, services=services) == [True]
    with pytest.raises(FhirPathError) as failure:
        evaluate("gender.memberOf('http://example.org/other')", patient, services=services)
    assert failure.value.kind == "unsupported"
    coding = {"resourceType": "Basic", "code": {"coding": [{"system": "s", "code": "parent"}]}}
    assert evaluate("code.subsumes(code.coding.select(code.replace('parent', 'child')))", coding) == [False]
    child = {"system": "s", "code": "child"}
    compiled = compile_expression("code.coding.first().subsumes(%other)")
    assert compiled.evaluate(coding, variables={"other": Node(child, "Coding")}, services=services) == [True]


def test_conforms_to_base_definitions() -> None:
    assert evaluate("conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')") == [True]
    assert evaluate("conformsTo('http://hl7.org/fhir/StructureDefinition/DomainResource')") == [True]
    assert evaluate("conformsTo('http://hl7.org/fhir/StructureDefinition/Observation')") == [False]
    with pytest.raises(FhirPathError):
        evaluate("conformsTo('http://example.org/StructureDefinition/unknown')")


def test_html_checks() -> None:
    narrative: dict[str, Any] = {"resourceType": "Patient", "text": {"status": "generated", "div": ""}}
    for div, expected in [
        ('<div xmlns="http://www.w3.org/1999/xhtml"><p>Seen <b>today</b></p></div>', True),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><script>x()</script></div>', False),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p></div>', False),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">a</a></div>', False),
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><div>&e;</div>', False),
        ('<div xmlns="http://www.w3.org/1999/xhtml">  </div>', False),
        ("<p>not in a div</p>", False),
    ]:
        narrative["text"]["div"] = div
        assert evaluate("text.`div`.htmlChecks()", narrative) == [expected], div


def test_compiled_expressions_are_cached() -> None:
    assert compile_expression("name.given", "Patient") is compile_expression("name.given", "Patient")
