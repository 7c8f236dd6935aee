"""String search: starts-with by default, case- and accent-insensitive, :exact, :contains."""

from __future__ import annotations

import pytest

from tests.search.conftest import Store

PATIENTS = [
    {"resourceType": "Patient", "id": "peter", "name": [{"family": "Chalmers", "given": ["Peter", "James"]}]},
    {"resourceType": "Patient", "id": "jose", "name": [{"family": "Núñez", "given": ["José"]}]},
    {"resourceType": "Patient", "id": "muller", "name": [{"family": "MÜLLER", "given": ["Anna"]}]},
    {"resourceType": "Patient", "id": "long", "name": [{"family": "Wolfeschlegelsteinhausenbergerdorff"}]},
    {
        "resourceType": "Patient",
        "id": "addr",
        "address": [{"line": ["12 Rue de l'Église"], "city": "Saint-Étienne", "postalCode": "42000"}],
    },
]


@pytest.fixture
async def loaded(store: Store) -> Store:
    await store.put(*PATIENTS)
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=pet", ["peter"]),
        ("name=PETER", ["peter"]),
        ("name=james", ["peter"]),  # any given name
        ("name=chal", ["peter"]),
        ("name=eter", []),  # starts-with, not contains
        ("name=jose", ["jose"]),  # accents folded on the stored side
        ("name=JOSÉ", ["jose"]),  # and on the query side
        ("name=nunez", ["jose"]),
        ("name=müll", ["muller"]),
        ("name=mull", ["muller"]),
        ("family=anna", []),  # family only
        ("given=anna", ["muller"]),
        ("name=peter,anna", ["muller", "peter"]),  # OR
        ("name=peter&name=chalmers", ["peter"]),  # AND
        ("name=peter&name=anna", []),
        ("address=saint-et", ["addr"]),
        ("address-city=saint-étienne", ["addr"]),
        ("address=12 rue de l'eglise", ["addr"]),
        ("address-postalcode=420", ["addr"]),
    ],
)
async def test_default_string_matching(loaded: Store, query: str, expected: list[str]) -> None:
    assert await loaded.ids("Patient", query) == expected


async def test_longer_than_the_prefix_limit(loaded: Store) -> None:
    assert await loaded.ids("Patient", "family=wolfeschlegelsteinhausenberger") == ["long"]
    assert await loaded.ids("Patient", "family=wolfeschlegelsteinhausenbergerdorff") == ["long"]
    assert await loaded.ids("Patient", "family=wolfeschlegelsteinhausenbergerdorfx") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("family:exact=Núñez", ["jose"]),
        ("family:exact=Nunez", []),  # accent-sensitive
        ("family:exact=núñez", []),  # case-sensitive
        ("family:exact=Núñ", []),  # whole value
        ("given:exact=Peter", ["peter"]),
    ],
)
async def test_exact(loaded: Store, query: str, expected: list[str]) -> None:
    assert await loaded.ids("Patient", query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("family:contains=halm", ["peter"]),
        ("family:contains=ULL", ["muller"]),
        ("family:contains=unez", ["jose"]),
        ("family:contains=hausenberg", ["long"]),
        ("family:contains=xyz", []),
    ],
)
async def test_contains(loaded: Store, query: str, expected: list[str]) -> None:
    assert await loaded.ids("Patient", query) == expected


async def test_missing(loaded: Store) -> None:
    assert await loaded.ids("Patient", "address:missing=false") == ["addr"]
    assert await loaded.ids("Patient", "address:missing=true") == ["jose", "long", "muller", "peter"]


async def test_escaped_comma_is_part_of_the_value(store: Store) -> None:
    await store.put({"resourceType": "Patient", "id": "comma", "name": [{"text": "Smith, John"}]})
    assert await store.ids("Patient", "name=smith\\, jo") == ["comma"]
    assert await store.ids("Patient", "name=smith,nobody") == ["comma"]


async def test_deleted_resources_never_match(loaded: Store) -> None:
    await loaded.delete("Patient", "peter")
    assert await loaded.ids("Patient", "name=peter") == []
    assert "peter" not in await loaded.ids("Patient", "")
