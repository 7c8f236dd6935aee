"""Compartment search, system search across types, and the access gate on every path
(matches, totals, includes, revincludes, chains, _has)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.access import AllowAll, ParamSet, SearchConstraint
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest
from tests.search.conftest import Store
from tests.search.data import LINKED
from tests.search.test_include import by_mode


@pytest.fixture
async def linked(store: Store) -> Store:
    await store.put(*LINKED)
    return store


# ----- compartments --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compartment", "resource_type", "query", "expected"),
    [
        (("Patient", "pa"), "Observation", "", ["o1"]),
        (("Patient", "pa"), "Observation", "code=9999-9", []),
        (("Patient", "pb"), "Observation", "code=1234-5", ["o2"]),
        (("Patient", "pa"), "Encounter", "", ["e1"]),
        (("Patient", "pa"), None, "", ["e1", "o1", "pa"]),  # Patient/pa/*: the patient itself too
        (("Practitioner", "dr1"), None, "", ["dr1", "e1", "o1", "pa", "prov1"]),  # pa: general-practitioner
        (("Encounter", "e1"), "Observation", "", ["o1"]),
    ],
)
async def test_compartment_search(
    linked: Store, compartment: tuple[str, str], resource_type: str | None, query: str, expected: list[str]
) -> None:
    assert await linked.ids(resource_type, query, compartment=compartment) == expected


async def test_compartment_links_and_errors(linked: Store) -> None:
    bundle = await linked.search("Observation", "code=1234-5", compartment=("Patient", "pa"))
    assert bundle["link"][0]["url"].endswith("/Patient/pa/Observation?code=1234-5")
    with pytest.raises(BadRequest):
        await linked.search("Organization", "", compartment=("Patient", "pa"))  # not a member type
    with pytest.raises(BadRequest):
        await linked.search("Observation", "", compartment=("Organization", "org1"))  # not a compartment


# ----- system search -------------------------------------------------------------------------------------


async def test_system_search(linked: Store) -> None:
    assert await linked.ids(None, "_id=pa,o1,dr1") == ["dr1", "o1", "pa"]
    assert await linked.ids(None, "_type=Patient,Observation&_id=pa,o1,dr1") == ["o1", "pa"]
    assert await linked.ids(None, "_type=Patient,Practitioner&name=smith") == ["dr1"]
    with pytest.raises(BadRequest):
        await linked.search(None, "name=smith")  # not common to every type


async def test_system_search_pages_across_types(linked: Store) -> None:
    from tests.search.test_paging import params_of, walk

    pages = await walk(linked, None, "_type=Patient,Observation&_count=2&_sort=_lastUpdated")
    flat = [i for page in pages for i in page]
    assert flat == ["pa", "pb", "pc", "o1", "o2", "o3", "o4"]
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    first = await linked.search(None, "_type=Patient,Observation&_count=3")
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert following.startswith("http://test.example/fhir?_type=Patient")
    second = await linked.search(None, params_of(following))
    assert len(second["entry"]) == 3


# ----- access gate ---------------------------------------------------------------------------------------


class PatientGate(AllowAll):
    """A patient-scoped caller: compartment-bound types only, and never one hidden resource."""

    def __init__(self, store: Store, patient: str, hidden: frozenset[str] = frozenset()) -> None:
        self.members = set(store.registry.compartment_member_types("Patient"))
        self.patient = patient
        self.hidden = hidden

    def search_constraint(self, ctx: RequestContext, resource_type: str) -> SearchConstraint:
        if resource_type in self.members:
            return SearchConstraint(compartment=f"Patient/{self.patient}")
        return SearchConstraint(alternatives=[])

    def can_see(self, ctx: RequestContext, resource: dict[str, Any]) -> bool:
        return resource.get("id") not in self.hidden


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    [
        ("Observation", "", ["Observation/o1"]),
        ("Observation", "code=1234-5&_include=Observation:subject", ["Observation/o1", "Patient/pa"]),
        ("Observation", "subject:Patient.name=anna", []),
        ("Observation", "subject:Patient.name=peter", ["Observation/o1"]),
        ("Patient", "_has:Observation:patient:code=1234-5", ["Patient/pa"]),
        ("Patient", "_id=pa,pb&_revinclude=Observation:subject", ["Observation/o1", "Patient/pa"]),
        ("Observation", "_id=o1&_revinclude=Provenance:target", ["Observation/o1"]),  # Provenance: not in it
        ("Organization", "", []),
        ("Observation", "performer:Practitioner.name=smith", []),  # Practitioners are not visible
        ("Encounter", "_include=Encounter:participant", ["Encounter/e1"]),
    ],
)
async def test_patient_scope_leaks_nothing(
    linked: Store, resource_type: str, query: str, expected: list[str]
) -> None:
    gate = PatientGate(linked, "pa")
    bundle = await linked.search(resource_type, query, gate=gate)
    found = sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", []))
    assert found == expected


async def test_totals_respect_the_constraint(linked: Store) -> None:
    gate = PatientGate(linked, "pa")
    assert (await linked.search("Observation", "_summary=count", gate=gate))["total"] == 1
    assert (await linked.search("Observation", "_total=accurate", gate=gate))["total"] == 1


async def test_can_see_filters_matches_and_includes(linked: Store) -> None:
    gate = PatientGate(linked, "pa", hidden=frozenset({"pa"}))
    bundle = await linked.search("Observation", "_include=Observation:subject", gate=gate)
    assert by_mode(bundle) == {"match": ["Observation/o1"]}


class GranularGate(AllowAll):
    """Granular scopes: Observations of some codes only (alternatives of parameter sets)."""

    def __init__(self, alternatives: list[ParamSet]) -> None:
        self.alternatives = alternatives

    def search_constraint(self, ctx: RequestContext, resource_type: str) -> SearchConstraint:
        if resource_type == "Observation":
            return SearchConstraint(alternatives=self.alternatives)
        return SearchConstraint()


@pytest.mark.parametrize(
    ("alternatives", "expected"),
    [
        ([[("code", "9999-9")]], ["o3"]),
        ([[("code", "9999-9")], [("subject", "Patient/pb")]], ["o2", "o3"]),
        ([[("code", "1234-5"), ("subject:Patient.gender", "male")]], ["o1"]),
        ([], []),
    ],
)
async def test_alternatives_constraint(
    linked: Store, alternatives: list[ParamSet], expected: list[str]
) -> None:
    assert await linked.ids("Observation", "", gate=GranularGate(alternatives)) == expected
    # and a chain from Patient into Observations cannot see the others either
    if expected:
        patients = await linked.ids(
            "Patient", "_has:Observation:patient:status=final", gate=GranularGate(alternatives)
        )
        owners = {"o1": "pa", "o2": "pb", "o3": "pc"}
        assert patients == sorted(owners[o] for o in expected)


async def test_system_search_validates_even_without_data(store: Store) -> None:
    assert await store.ids(None, "_id=nothing") == []
    with pytest.raises(BadRequest):
        await store.search(None, "nonsense=1")
    with pytest.raises(BadRequest):
        await store.search(None, "_sort=name")


async def test_same_id_in_two_types_pages_both_ways(store: Store) -> None:
    from tests.search.test_paging import link, params_of

    await store.put(
        {"resourceType": "Patient", "id": "dup"},
        {"resourceType": "Practitioner", "id": "dup"},
        {"resourceType": "Patient", "id": "a"},
        {"resourceType": "Practitioner", "id": "z"},
    )
    for query in ("_type=Patient,Practitioner&_count=1", "_type=Patient,Practitioner&_count=1&_sort=-_id"):
        bundle = await store.search(None, query)
        forward = [[f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]]
        while (following := link(bundle, "next")) is not None:
            bundle = await store.search(None, params_of(following))
            forward.append(
                [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
            )
        flat = [key for page in forward for key in page]
        assert sorted(flat) == ["Patient/a", "Patient/dup", "Practitioner/dup", "Practitioner/z"]
        backward = []
        while (previous := link(bundle, "previous")) is not None:
            bundle = await store.search(None, params_of(previous))
            backward.append(
                [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
            )
        assert list(reversed(backward)) == forward[:-1]
