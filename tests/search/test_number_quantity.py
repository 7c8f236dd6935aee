"""Number and quantity search: precision-implied equality, every prefix, units (system|code, ||code,
||unit), Money, Ranges, and multi-valued quantities (a unit and a bound must hold for ONE value)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.search.conftest import Store

UCUM = "http://unitsofmeasure.org"


def risk(rid: str, *predictions: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "RiskAssessment",
        "id": rid,
        "status": "final",
        "subject": {"reference": "Patient/1"},
        "prediction": list(predictions),
    }


RISKS = [
    risk("ra1", {"probabilityDecimal": 0.25}),
    risk("ra2", {"probabilityDecimal": 0.8}, {"probabilityDecimal": 0.02}),
    risk("ra3", {"probabilityRange": {"low": {"value": 0.4}, "high": {"value": 0.6}}}),
    risk("ra4", {"probabilityDecimal": 100}),
    risk("ra5", {"probabilityDecimal": 99.96}),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("probability=0.25", ["ra1"]),
        ("probability=0.3", ["ra1"]),  # [0.25, 0.35)
        ("probability=0.2", []),  # [0.15, 0.25): 0.25 is outside
        ("probability=100", ["ra4", "ra5"]),  # [99.5, 100.5)
        ("probability=100.0", ["ra4", "ra5"]),  # [99.95, 100.05)
        ("probability=100.00", ["ra4"]),  # [99.995, 100.005)
        ("probability=1e2", ["ra4", "ra5"]),  # [50, 150)
        ("probability=gt0.5", ["ra2", "ra3", "ra4", "ra5"]),
        ("probability=lt0.1", ["ra2"]),
        ("probability=ge0.8", ["ra2", "ra4", "ra5"]),
        ("probability=le0.02", ["ra2"]),
        ("probability=sa0.5", ["ra2", "ra4", "ra5"]),
        ("probability=eb0.3", ["ra1", "ra2"]),
        ("probability=ne100", ["ra1", "ra2", "ra3"]),
        ("probability=ap0.5", ["ra3"]),  # ra2 has 0.8 and 0.02: neither is near 0.5
        ("probability=ap0.8", ["ra2"]),
        ("probability=0.25,0.02", ["ra1", "ra2"]),
    ],
)
async def test_number(store: Store, query: str, expected: list[str]) -> None:
    await store.put(*RISKS)
    assert await store.ids("RiskAssessment", query) == expected


def observation(oid: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "x"}, **value}


def bp(oid: str, *components: tuple[str, float, str]) -> dict[str, Any]:
    return observation(
        oid,
        component=[
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {"value": value, "system": UCUM, "code": unit, "unit": unit},
            }
            for code, value, unit in components
        ],
    )


QUANTITIES = [
    observation("mg", valueQuantity={"value": 5.4, "unit": "mg", "system": UCUM, "code": "mg"}),
    observation("kg", valueQuantity={"value": 5.4, "unit": "kg", "system": UCUM, "code": "kg"}),
    observation("mmhg", valueQuantity={"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}),
    observation("local-mg", valueQuantity={"value": 5.40, "unit": "mg"}),
    bp("bp1", ("8480-6", 120, "mm[Hg]"), ("8462-4", 80, "mm[Hg]")),
    bp("bp2", ("8480-6", 100, "mm[Hg]"), ("8867-4", 150, "/min")),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("value-quantity=5.4", ["kg", "local-mg", "mg"]),
        (f"value-quantity=5.4|{UCUM}|mg", ["mg"]),
        ("value-quantity=5.4||mg", ["local-mg", "mg"]),  # code or unit
        ("value-quantity=120||mmHg", ["mmhg"]),  # by unit text
        (f"value-quantity=120|{UCUM}|mm[Hg]", ["mmhg"]),
        (f"value-quantity=gt5|{UCUM}|mg", ["mg"]),
        ("value-quantity=gt5", ["kg", "local-mg", "mg", "mmhg"]),
        ("value-quantity=lt100||mm[Hg]", []),
        ("value-quantity=ge120||mm[Hg]", ["mmhg"]),
        ("value-quantity=ap5||kg", ["kg"]),
        ("component-value-quantity=100", ["bp2"]),
        ("component-value-quantity=lt90", ["bp1"]),
        ("component-value-quantity=gt130||/min", ["bp2"]),
        # bp2 has 150 (/min) and 100 (mm[Hg]): no single value is > 130 mm[Hg]
        ("component-value-quantity=gt130||mm[Hg]", []),
        ("component-value-quantity=gt110||mm[Hg]", ["bp1"]),
        ("component-value-quantity=ap100||/min", []),
        ("component-value-quantity=ap150||/min", ["bp2"]),
    ],
)
async def test_quantity(store: Store, query: str, expected: list[str]) -> None:
    await store.put(*QUANTITIES)
    assert await store.ids("Observation", query) == expected


async def test_money_and_ranges(store: Store) -> None:
    await store.put(
        {
            "resourceType": "Invoice",
            "id": "inv",
            "status": "issued",
            "totalNet": {"value": 250.00, "currency": "USD"},
        },
        {
            "resourceType": "Condition",
            "id": "age",
            "subject": {"reference": "Patient/1"},
            "onsetAge": {"value": 30, "unit": "a", "system": UCUM, "code": "a"},
        },
        {
            "resourceType": "Condition",
            "id": "range",
            "subject": {"reference": "Patient/1"},
            "onsetRange": {
                "low": {"value": 20, "system": UCUM, "code": "a"},
                "high": {"value": 40, "system": UCUM, "code": "a"},
            },
        },
    )
    assert await store.ids("Invoice", "totalnet=250|urn:iso:std:iso:4217|USD") == ["inv"]
    assert await store.ids("Invoice", "totalnet=250||EUR") == []
    assert await store.ids("Invoice", "totalnet=gt200") == ["inv"]
    assert await store.ids("Condition", "onset-age=30") == ["age"]
    assert await store.ids("Condition", "onset-age=gt35") == ["range"]
    assert await store.ids("Condition", f"onset-age=gt35|{UCUM}|a") == ["range"]
    assert await store.ids("Condition", "onset-age=lt25||a") == ["range"]
    assert await store.ids("Condition", "onset-age=ge30") == ["age", "range"]


@pytest.mark.parametrize("value", ["abc", "5|x", "5|http://x|", "gt", "1e", "5.4|a|b|c"])
async def test_malformed_quantities_are_rejected(store: Store, value: str) -> None:
    from fhir_server.errors import BadRequest

    with pytest.raises(BadRequest):
        await store.search("Observation", [("value-quantity", value)])
