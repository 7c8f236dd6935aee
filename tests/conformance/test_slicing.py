"""Slicing rules and discriminators, on a small hand-written profile compiled like the shipped ones."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.conformance.slicing import SliceItem, assign_slices
from fhir_server.conformance.structure import ElementRule, compile_structure

JsonDict = dict[str, Any]


def _profile(slicing: JsonDict, slices: list[JsonDict]) -> ElementRule:
    elements = [
        {"id": "Patient", "path": "Patient"},
        {
            "id": "Patient.identifier",
            "path": "Patient.identifier",
            "min": 0,
            "max": "*",
            "type": [{"code": "Identifier"}],
            "slicing": slicing,
        },
        *slices,
    ]
    compiled = compile_structure(
        {"url": "urn:test", "type": "Patient", "kind": "resource", "elements": elements}
    )
    rule = compiled.root.child("identifier")
    assert rule is not None
    return rule


def _slice(name: str, system: str, *, min_: int = 0, max_: str = "1") -> list[JsonDict]:
    base = f"Patient.identifier:{name}"
    return [
        {"id": base, "path": "Patient.identifier", "sliceName": name, "min": min_, "max": max_},
        {"id": f"{base}.system", "path": "Patient.identifier.system", "min": 1, "fixedUri": system},
    ]


def _items(*systems: str) -> list[SliceItem]:
    return [
        SliceItem({"system": s, "value": "1"}, "Identifier", f"Patient.identifier[{i}]")
        for i, s in enumerate(systems)
    ]


BY_SYSTEM = {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}


def test_value_discriminator_assigns_and_counts() -> None:
    rule = _profile(BY_SYSTEM, _slice("mrn", "urn:mrn", min_=1) + _slice("ssn", "urn:ssn"))
    matched, issues = assign_slices(
        rule, _items("urn:other", "urn:mrn"), location="Patient.identifier", source="t"
    )
    assert [(s.slice_name, i) for s, i in matched] == [("mrn", 1)]
    assert issues == []
    _, issues = assign_slices(rule, _items("urn:ssn", "urn:ssn"), location="Patient.identifier", source="t")
    assert sorted(i.code for i in issues) == ["required", "structure"]  # mrn missing, ssn twice


def test_closed_slicing_refuses_unmatched_items() -> None:
    rule = _profile(dict(BY_SYSTEM, rules="closed"), _slice("mrn", "urn:mrn"))
    _, issues = assign_slices(rule, _items("urn:mrn", "urn:other"), location="Patient.identifier", source="t")
    assert [(i.code, i.expression) for i in issues] == [("structure", ("Patient.identifier[1]",))]


def test_open_at_end_and_ordered_slicing() -> None:
    rule = _profile(dict(BY_SYSTEM, rules="openAtEnd"), _slice("mrn", "urn:mrn"))
    _, issues = assign_slices(rule, _items("urn:other", "urn:mrn"), location="Patient.identifier", source="t")
    assert [i.expression for i in issues] == [("Patient.identifier[1]",)]
    ordered = _profile(dict(BY_SYSTEM, ordered=True), _slice("a", "urn:a") + _slice("b", "urn:b"))
    _, issues = assign_slices(ordered, _items("urn:b", "urn:a"), location="Patient.identifier", source="t")
    assert ["out of order" in i.diagnostics for i in issues] == [True]


@pytest.mark.parametrize(
    ("discriminator", "slice_extra", "value", "expected"),
    [
        (
            {"type": "pattern", "path": "$this"},
            {"patternIdentifier": {"system": "urn:a"}},
            {"system": "urn:a", "value": "1"},
            True,
        ),
        (
            {"type": "pattern", "path": "$this"},
            {"patternIdentifier": {"system": "urn:a"}},
            {"system": "urn:b"},
            False,
        ),
        (
            {"type": "value", "path": "system"},
            {"patternIdentifier": {"system": "urn:a"}},
            {"system": "urn:a"},
            True,
        ),
        ({"type": "exists", "path": "period"}, {}, {"period": {"start": "2020"}}, True),
        ({"type": "exists", "path": "period"}, {}, {"system": "urn:a"}, False),
        ({"type": "profile", "path": "$this"}, {}, {"system": "urn:a"}, False),
    ],
)
def test_discriminator_kinds(
    discriminator: JsonDict, slice_extra: JsonDict, value: JsonDict, expected: bool
) -> None:
    slice_element = {
        "id": "Patient.identifier:s",
        "path": "Patient.identifier",
        "sliceName": "s",
        **slice_extra,
    }
    rule = _profile({"discriminator": [discriminator], "rules": "open"}, [slice_element])
    item = SliceItem(value, "Identifier", "Patient.identifier[0]")
    matched, _ = assign_slices(rule, [item], location="Patient.identifier", source="t")
    assert bool(matched) is expected


def test_type_discriminator_on_a_choice() -> None:
    elements = [
        {"id": "Observation", "path": "Observation"},
        {
            "id": "Observation.value[x]",
            "path": "Observation.value[x]",
            "type": [{"code": "Quantity"}, {"code": "string"}],
            "slicing": {"discriminator": [{"type": "type", "path": "$this"}], "rules": "closed"},
        },
        {
            "id": "Observation.value[x]:valueQuantity",
            "path": "Observation.value[x]",
            "sliceName": "valueQuantity",
            "type": [{"code": "Quantity"}],
        },
    ]
    compiled = compile_structure(
        {"url": "urn:t", "type": "Observation", "kind": "resource", "elements": elements}
    )
    rule = compiled.root.child("value[x]")
    assert rule is not None
    quantity = SliceItem({"value": 1}, "Quantity", "Observation.valueQuantity")
    text = SliceItem("high", "string", "Observation.valueString")
    assert [
        s.slice_name for s, _ in assign_slices(rule, [quantity], location="Observation", source="t")[0]
    ] == ["valueQuantity"]
    assert assign_slices(rule, [text], location="Observation", source="t")[1][0].code == "structure"


def test_extensions_are_sliced_by_url_without_declared_slicing() -> None:
    elements = [
        {"id": "Patient", "path": "Patient"},
        {"id": "Patient.extension", "path": "Patient.extension", "type": [{"code": "Extension"}]},
        {
            "id": "Patient.extension:x",
            "path": "Patient.extension",
            "sliceName": "x",
            "min": 1,
            "type": [{"code": "Extension", "profile": ["urn:ext:x"]}],
        },
    ]
    compiled = compile_structure(
        {"url": "urn:t", "type": "Patient", "kind": "resource", "elements": elements}
    )
    rule = compiled.root.child("extension")
    assert rule is not None
    found = SliceItem({"url": "urn:ext:x", "valueString": "a"}, "Extension", "Patient.extension[0]")
    other = SliceItem({"url": "urn:ext:y", "valueString": "a"}, "Extension", "Patient.extension[0]")
    assert assign_slices(rule, [found], location="Patient.extension", source="t") == (
        [(rule.slices[0], 0)],
        [],
    )
    assert assign_slices(rule, [other], location="Patient.extension", source="t")[1][0].code == "required"


def test_compile_rejects_orphan_elements() -> None:
    with pytest.raises(ValueError, match="no parent"):
        compile_structure(
            {
                "url": "u",
                "type": "T",
                "kind": "resource",
                "elements": [{"id": "T", "path": "T"}, {"id": "T.a.b", "path": "T.a.b"}],
            }
        )
    with pytest.raises(ValueError, match="no snapshot"):
        compile_structure({"url": "u", "type": "T", "kind": "resource"})
