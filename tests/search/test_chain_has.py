"""Chained parameters (several links deep, typed or not) and reverse chaining with _has (nested),
bounded by search_hop_limit."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, TooCostly
from tests.search.conftest import Store
from tests.search.data import LINKED


@pytest.fixture
async def linked(store: Store) -> Store:
    await store.put(*LINKED)
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("subject:Patient.name=peter", ["o1", "o3"]),
        ("subject.name=peter", ["o1", "o3"]),
        ("patient.name=anna", ["o2"]),
        ("subject:Patient.name=nobody", []),
        ("patient.organization.name=good", ["o1"]),
        ("subject:Patient.organization:Organization.name=other", ["o2"]),
        ("subject:Patient.general-practitioner:Practitioner.name=smith", ["o1"]),
        ("patient.organization.partof.name=good", ["o2"]),  # three links
        ("subject:Patient.gender=male&code=1234-5", ["o1"]),
        ("subject:Patient.name=peter,anna", ["o1", "o2", "o3"]),
        ("encounter.status=finished", ["o1"]),
        ("subject:Patient._id=pb", ["o2"]),
    ],
)
async def test_chains(linked: Store, query: str, expected: list[str]) -> None:
    assert await linked.ids("Observation", query) == expected


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    [
        ("Patient", "_has:Observation:patient:code=1234-5", ["pa", "pb"]),
        ("Patient", "_has:Observation:subject:code=9999-9", ["pc"]),
        ("Patient", "_has:Observation:patient:code=0000-0", []),
        ("Patient", "_has:Observation:patient:_has:Provenance:target:_id=prov1", ["pa"]),
        ("Patient", "_has:Observation:patient:code=1234-5&gender=female", ["pb"]),
        ("Practitioner", "_has:Encounter:practitioner:subject=Patient/pa", ["dr1"]),
        ("Practitioner", "_has:Observation:performer:subject:Patient.name=peter", ["dr1"]),
        ("Encounter", "_has:Observation:encounter:subject=Patient/pa", ["e1"]),
    ],
)
async def test_reverse_chains(linked: Store, resource_type: str, query: str, expected: list[str]) -> None:
    assert await linked.ids(resource_type, query) == expected


@pytest.mark.parametrize(
    ("resource_type", "name"),
    [
        ("Observation", "subject.nonexistent"),
        ("Observation", "code.name"),  # not a reference
        ("Observation", "subject:Nonsense.name"),
        ("Patient", "_has:Nonsense:patient:code"),
        ("Patient", "_has:Observation:code:status"),  # code is not a reference
        ("Patient", "_has:Observation:patient"),
        ("Patient", "_has:Observation:patient:nonexistent"),
    ],
)
async def test_bad_chains_are_rejected(linked: Store, resource_type: str, name: str) -> None:
    with pytest.raises(BadRequest) as raised:
        await linked.search(resource_type, [(name, "x")])
    assert raised.value.expression == (name,)


async def test_hop_limit_refuses_instead_of_answering_wrongly(linked: Store) -> None:
    linked.settings.search_hop_limit = 1
    with pytest.raises(TooCostly) as raised:
        await linked.search("Observation", "subject:Patient.name=peter")
    assert "more than 1" in raised.value.diagnostics
    with pytest.raises(TooCostly):
        await linked.search("Patient", "_has:Observation:patient:code=1234-5")
    assert await linked.ids("Observation", "subject:Patient.name=anna") == ["o2"]  # one is fine
