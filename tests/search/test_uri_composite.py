"""URI search (exact, :below, :above) and composite search (token$token, token$quantity with
prefixes, component pairing)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.search.conftest import Store

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def value_set(vid: str, url: str) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": vid, "status": "active", "url": url}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("url=http://acme.org/fhir/ValueSet/123", ["vs1"]),
        ("url=http://acme.org/fhir/ValueSet", []),
        ("url:below=http://acme.org/fhir", ["vs-root", "vs1", "vs2"]),
        ("url:below=http://acme.org/fhir/", ["vs-root", "vs1", "vs2"]),
        ("url:below=http://acme.org/fhir/ValueSet", ["vs1"]),
        ("url:below=http://acme.org/fh", []),  # path segments, not characters
        ("url:above=http://acme.org/fhir/ValueSet/123/_history/5", ["vs-root", "vs1"]),
        ("url:above=http://acme.org/fhir/CodeSystem/9", ["vs-root"]),
        ("url=urn:oid:1.2.3", ["vs-oid"]),
        ("url:missing=false", ["vs-oid", "vs-root", "vs1", "vs2"]),
    ],
)
async def test_uri(store: Store, query: str, expected: list[str]) -> None:
    await store.put(
        value_set("vs1", "http://acme.org/fhir/ValueSet/123"),
        value_set("vs2", "http://acme.org/fhir/ConceptMap/7"),
        value_set("vs-root", "http://acme.org/fhir"),
        value_set("vs-oid", "urn:oid:1.2.3"),
    )
    assert await store.ids("ValueSet", query) == expected


def observation(oid: str, code: str, **rest: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        **rest,
    }


def component(code: str, **value: Any) -> dict[str, Any]:
    return {"code": {"coding": [{"system": LOINC, "code": code}]}, **value}


def qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "system": UCUM, "code": unit, "unit": unit}


COMPOSITES = [
    observation("glucose", "2339-0", valueQuantity=qty(6.2, "mmol/L")),
    observation("glucose-high", "2339-0", valueQuantity=qty(11.0, "mmol/L")),
    observation("other", "1234-5", valueQuantity=qty(6.2, "mmol/L")),
    observation(
        "bp",
        "85354-9",
        component=[
            component("8480-6", valueQuantity=qty(120, "mm[Hg]")),
            component("8462-4", valueQuantity=qty(80, "mm[Hg]")),
        ],
    ),
    observation(
        "smoker",
        "72166-2",
        valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "449868002"}]},
    ),
    observation("dated", "21112-8", valueDateTime="2020-06-15"),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"code-value-quantity={LOINC}|2339-0$6.2", ["glucose"]),
        ("code-value-quantity=2339-0$6.2", ["glucose"]),
        (f"code-value-quantity={LOINC}|2339-0$gt10", ["glucose-high"]),
        (f"code-value-quantity={LOINC}|2339-0$lt10|{UCUM}|mmol/L", ["glucose"]),
        (f"code-value-quantity={LOINC}|2339-0$lt10||mg", []),
        (f"code-value-quantity={LOINC}|2339-0$6.2,{LOINC}|1234-5$6.2", ["glucose", "other"]),
        (f"component-code-value-quantity={LOINC}|8480-6$gt100", ["bp"]),
        # the diastolic value is 80, the systolic 120: no single component is systolic and < 100
        (f"component-code-value-quantity={LOINC}|8480-6$lt100", []),
        (f"component-code-value-quantity={LOINC}|8462-4$lt100", ["bp"]),
        (f"combo-code-value-quantity={LOINC}|8462-4$80", ["bp"]),
        (f"combo-code-value-quantity={LOINC}|2339-0$11", ["glucose-high"]),
        (f"code-value-concept={LOINC}|72166-2$http://snomed.info/sct|449868002", ["smoker"]),
        ("code-value-concept=72166-2$449868002", ["smoker"]),
        (f"code-value-concept={LOINC}|72166-2$http://snomed.info/sct|0000", []),
        (f"code-value-date={LOINC}|21112-8$2020-06", ["dated"]),
        (f"code-value-date={LOINC}|21112-8$gt2021", []),
        (f"code-value-date={LOINC}|21112-8$lt2021", ["dated"]),
        (f"code-value-date={LOINC}|21112-8$ge2020-06-15", ["dated"]),  # $or inside $elemMatch
        (f"code-value-date={LOINC}|21112-8$ge2020-06-16", []),
        (f"code-value-date={LOINC}|21112-8$le2020-06", ["dated"]),
    ],
)
async def test_composite(store: Store, query: str, expected: list[str]) -> None:
    await store.put(*COMPOSITES)
    assert await store.ids("Observation", query) == expected


async def test_composite_needs_every_part(store: Store) -> None:
    from fhir_server.errors import BadRequest

    with pytest.raises(BadRequest) as raised:
        await store.search("Observation", [("code-value-quantity", "2339-0")])
    assert "code-value-quantity" in raised.value.diagnostics
