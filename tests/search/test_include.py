"""_include and _revinclude: named, typed, *, :iterate; modes, no duplicates, the include limit."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.errors import BadRequest
from tests.search.conftest import Store
from tests.search.data import LINKED


@pytest.fixture
async def linked(store: Store) -> Store:
    await store.put(*LINKED)
    return store


def by_mode(bundle: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        out.setdefault(entry["search"]["mode"], []).append(f"{resource['resourceType']}/{resource.get('id')}")
    return {mode: sorted(keys) for mode, keys in out.items()}


@pytest.mark.parametrize(
    ("resource_type", "query", "matches", "included"),
    [
        (
            "Observation",
            "code=1234-5&_include=Observation:subject",
            ["Observation/o1", "Observation/o2", "Observation/o4"],
            ["Patient/pa", "Patient/pb"],
        ),  # Group/g1 does not exist
        ("Observation", "_id=o1&_include=Observation:subject:Group", ["Observation/o1"], []),
        ("Observation", "_id=o1&_include=Observation:patient", ["Observation/o1"], ["Patient/pa"]),
        (
            "Observation",
            "_id=o1&_include=*",
            ["Observation/o1"],
            ["Encounter/e1", "Patient/pa", "Practitioner/dr1"],
        ),
        (
            "Observation",
            "_id=o1&_include=Observation:*:Practitioner",
            ["Observation/o1"],
            ["Practitioner/dr1"],
        ),
        ("Observation", "_id=o1&_revinclude=Provenance:target", ["Observation/o1"], ["Provenance/prov1"]),
        (
            "Observation",
            "_id=o1&_include=Observation:subject&_include:iterate=Patient:organization",
            ["Observation/o1"],
            ["Organization/org1", "Patient/pa"],
        ),
        (
            "Observation",
            "_id=o1&_include=Observation:subject&_include=Patient:organization",
            ["Observation/o1"],
            ["Patient/pa"],
        ),  # not iterated: Patient is not the searched type
        (
            "Patient",
            "_id=pa&_revinclude=Observation:patient&_revinclude:iterate=Provenance:target",
            ["Patient/pa"],
            ["Observation/o1", "Provenance/prov1"],
        ),
        (
            "Patient",
            "_id=pa,pb&_revinclude=Observation:subject&_include=Patient:organization",
            ["Patient/pa", "Patient/pb"],
            ["Observation/o1", "Observation/o2", "Organization/org1", "Organization/org2"],
        ),
        (
            "Patient",
            "_id=pa,pb&_include=Patient:organization",
            ["Patient/pa", "Patient/pb"],
            ["Organization/org1", "Organization/org2"],
        ),
        # a resource that is already a match is not repeated as an include
        (
            "Organization",
            "_id=org1,org2&_include=Organization:partof",
            ["Organization/org1", "Organization/org2"],
            [],
        ),
    ],
)
async def test_includes(
    linked: Store, resource_type: str, query: str, matches: list[str], included: list[str]
) -> None:
    modes = by_mode(await linked.search(resource_type, query))
    assert modes.get("match", []) == matches
    assert modes.get("include", []) == included


async def test_include_limit_warns(linked: Store) -> None:
    linked.settings.include_limit = 1
    bundle = await linked.search("Patient", "_id=pa,pb&_include=Patient:organization")
    modes = by_mode(bundle)
    assert len(modes["include"]) == 1
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and outcome[0]["resource"]["issue"][0]["code"] == "too-costly"


@pytest.mark.parametrize(
    "value", ["Observation", "Observation:code", "Nonsense:subject", "Observation:subject:Nonsense"]
)
async def test_bad_includes_are_rejected(linked: Store, value: str) -> None:
    with pytest.raises(BadRequest):
        await linked.search("Observation", [("_include", value)])
