"""A patient-context token for patient A, through the full app with authorization on: nothing about
patient B leaks through reads, history, searches (chains, ``_has``, includes, compartments),
batches, operations or Binary content; and B's resources answer 404, as if they did not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.security.leaks import a_keys, assert_no_b, b_keys, entry_resources, keys
from tests.security.tokens import bearer, mint
from tests.security.world import GLUCOSE, World
from tests.support import client_for

B_TYPES = [
    "Observation-lab",
    "Observation-vitals",
    "Encounter",
    "Condition",
    "Appointment",
    "DocumentReference",
]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def a_http(secured_app: FastAPI, world: World) -> AsyncIterator[httpx.AsyncClient]:
    token = mint(secured_app, "patient/*.rs", patient=world.a.id)
    async with client_for(secured_app, **bearer(token)) as http:
        yield http


def _path(label: str, resource_id: str) -> str:
    return f"/{label.split('-')[0]}/{resource_id}"


async def _bundle(http: httpx.AsyncClient, world: World, path: str, **params: str) -> dict[str, object]:
    answer = await http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert_no_b(answer, world)
    bundle: dict[str, object] = answer.json()
    return bundle


# ----- reads -------------------------------------------------------------------------------------


async def test_a_reads_its_own_resources(a_http: httpx.AsyncClient, world: World) -> None:
    assert (await a_http.get(f"/Patient/{world.a.id}")).json()["name"][0]["family"] == world.a.family
    for label in B_TYPES:
        answer = await a_http.get(_path(label, world.a.ids[label]))
        assert answer.status_code == 200, (label, answer.text)


@pytest.mark.parametrize("label", ["Patient", *B_TYPES])
async def test_reading_b_is_not_found(a_http: httpx.AsyncClient, world: World, label: str) -> None:
    resource_id = world.b.id if label == "Patient" else world.b.ids[label]
    for path in (_path(label, resource_id), f"{_path(label, resource_id)}/_history/1"):
        answer = await a_http.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.json()["resourceType"] == "OperationOutcome"
        assert_no_b(answer, world)


async def test_reading_unknown_and_invisible_look_the_same(a_http: httpx.AsyncClient, world: World) -> None:
    invisible = await a_http.get(f"/Observation/{world.b.ids['Observation-lab']}")
    unknown = await a_http.get("/Observation/no-such-observation")
    assert invisible.status_code == unknown.status_code == 404
    assert invisible.json()["issue"][0]["code"] == unknown.json()["issue"][0]["code"]


async def test_binary_content_of_b_is_not_found(a_http: httpx.AsyncClient, world: World) -> None:
    binary = world.b.ids["Binary"]
    for accept in ("text/plain", "application/fhir+json", "*/*"):
        answer = await a_http.get(f"/Binary/{binary}", headers={"Accept": accept})
        assert answer.status_code == 404, (accept, answer.status_code)
        assert b"Discharge letter" not in answer.content
        assert_no_b(answer, world)
    assert (await a_http.get(f"/Binary/{binary}/_history/1")).status_code == 404


async def test_deleted_resource_of_b_is_not_found_rather_than_gone(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    created = await system_http.post(
        "/Condition",
        json={"resourceType": "Condition", "code": {"text": "x"}, "subject": {"reference": world.b.ref()}},
    )
    condition = created.json()["id"]
    assert (await system_http.delete(f"/Condition/{condition}")).status_code in (200, 204)
    assert (await system_http.get(f"/Condition/{condition}")).status_code == 410
    for path in (
        f"/Condition/{condition}",
        f"/Condition/{condition}/_history/1",
        f"/Condition/{condition}/_history",
    ):
        answer = await a_http.get(path)
        assert answer.status_code == 404, (path, answer.status_code)


# ----- history -----------------------------------------------------------------------------------


async def test_instance_history_of_b_is_not_found(a_http: httpx.AsyncClient, world: World) -> None:
    for path in (
        f"/Patient/{world.b.id}/_history",
        f"/Observation/{world.b.ids['Observation-lab']}/_history",
    ):
        answer = await a_http.get(path)
        assert answer.status_code == 404, (path, answer.status_code, answer.text)
        assert_no_b(answer, world)


@pytest.mark.parametrize("path", ["/_history", "/Observation/_history", "/Patient/_history"])
async def test_type_and_system_history_hold_no_b_versions(
    a_http: httpx.AsyncClient, world: World, path: str
) -> None:
    bundle = await _bundle(a_http, world, path, _count="500")
    assert not keys(bundle) & b_keys(world)
    assert keys(bundle)  # A's own versions are there


# ----- search ------------------------------------------------------------------------------------


async def test_observation_search_and_totals_count_only_a(a_http: httpx.AsyncClient, world: World) -> None:
    expected = {key for key in a_keys(world) if key.startswith("Observation/")}
    bundle = await _bundle(a_http, world, "/Observation", _total="accurate")
    assert keys(bundle) == expected
    assert bundle["total"] == len(expected)
    counted = await _bundle(a_http, world, "/Observation", _summary="count")
    assert counted["total"] == len(expected)
    paged = await _bundle(a_http, world, "/Observation", _count="1", _total="accurate")
    assert paged["total"] == len(expected)


@pytest.mark.parametrize(
    "params",
    [
        {"subject": "Patient/{b}"},
        {"patient": "{b}"},
        {"subject:Patient.name": "{b_family}"},
        {"subject:Patient.identifier": "{b_mrn}"},
        {"performer:Patient.name": "{b_family}"},
        {"identifier": "{b_obs}"},
        {"_id": "{b_obs_id}"},
    ],
    ids=["subject", "patient", "chain-name", "chain-identifier", "performer-chain", "identifier", "_id"],
)
async def test_observation_searches_aimed_at_b_are_empty(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World, params: dict[str, str]
) -> None:
    values = {
        "b": world.b.id,
        "b_family": world.b.family,
        "b_mrn": world.b.mrn,
        "b_obs": world.b.obs_identifier,
        "b_obs_id": world.b.ids["Observation-lab"],
    }
    filled = {name: value.format(**values) for name, value in params.items()}
    control = await system_http.get("/Observation", params=filled)
    assert entry_resources(control.json()), "the search must find something for an unconfined caller"
    bundle = await _bundle(a_http, world, "/Observation", _total="accurate", **filled)
    assert entry_resources(bundle) == []
    assert bundle["total"] == 0


async def test_patient_searches_find_only_a(a_http: httpx.AsyncClient, world: World) -> None:
    assert keys(await _bundle(a_http, world, "/Patient")) == {world.a.ref()}
    for params in ({"_id": world.b.id}, {"family": world.b.family}, {"identifier": world.b.mrn}):
        bundle = await _bundle(a_http, world, "/Patient", _total="accurate", **params)
        assert (entry_resources(bundle), bundle["total"]) == ([], 0)


async def test_has_does_not_reach_b(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    bundle = await _bundle(a_http, world, "/Patient", **{"_has:Observation:subject:code": GLUCOSE})
    assert keys(bundle) == {world.a.ref()}
    by_b_obs = {"_has:Observation:subject:identifier": world.b.obs_identifier}
    assert entry_resources(await _bundle(a_http, world, "/Patient", **by_b_obs)) == []
    control = await system_http.get("/Patient", params=by_b_obs)
    assert keys(control.json()) == {world.b.ref()}


@pytest.mark.parametrize(
    "include",
    ["Observation:performer", "Observation:subject", "Observation:*", "Observation:performer:Patient"],
)
async def test_include_does_not_add_b(a_http: httpx.AsyncClient, world: World, include: str) -> None:
    bundle = await _bundle(a_http, world, "/Observation", _include=include)
    found = keys(bundle)
    assert f"Observation/{world.cross_observation}" in found  # the Observation naming B is A's
    assert world.b.ref() not in found
    assert not found & b_keys(world)


async def test_iterated_include_does_not_add_b(a_http: httpx.AsyncClient, world: World) -> None:
    params = httpx.QueryParams(
        [
            ("_include", "Observation:performer"),
            ("_include:iterate", "Patient:link"),
            ("_revinclude:iterate", "Observation:performer"),
        ]
    )
    answer = await a_http.get("/Observation", params=params)
    assert answer.status_code == 200, answer.text
    assert_no_b(answer, world)
    assert not keys(answer.json()) & b_keys(world)


@pytest.mark.parametrize(
    "revinclude", ["Observation:subject", "Observation:patient", "Encounter:subject", "*"]
)
async def test_revinclude_adds_only_a(a_http: httpx.AsyncClient, world: World, revinclude: str) -> None:
    bundle = await _bundle(a_http, world, "/Patient", _revinclude=revinclude)
    assert not keys(bundle) & b_keys(world)
    assert world.a.ref() in keys(bundle)


async def test_revinclude_from_b_by_id_is_empty(a_http: httpx.AsyncClient, world: World) -> None:
    bundle = await _bundle(a_http, world, "/Patient", _id=world.b.id, _revinclude="Observation:subject")
    assert entry_resources(bundle) == []


@pytest.mark.parametrize("path", ["/Patient/{b}/Observation", "/Patient/{b}/Encounter", "/Patient/{b}/*"])
async def test_compartment_search_of_b_shows_nothing_of_b(
    a_http: httpx.AsyncClient, world: World, path: str
) -> None:
    answer = await a_http.get(path.format(b=world.b.id))
    assert answer.status_code in (200, 403, 404), answer.text
    assert_no_b(answer, world)
    if answer.status_code == 200:
        # Only what is also in A's compartment may show (the Observation A shares with B).
        assert keys(answer.json()) <= {f"Observation/{world.cross_observation}"}


async def test_system_search_finds_nothing_of_b(a_http: httpx.AsyncClient, world: World) -> None:
    bundle = await _bundle(a_http, world, "/", _type="Patient,Observation,Encounter,Condition", _count="200")
    assert not keys(bundle) & b_keys(world)
    assert world.a.ref() in keys(bundle)
    posted = await a_http.post("/Observation/_search", data={"subject": world.b.ref()})
    assert posted.status_code == 200
    assert entry_resources(posted.json()) == []


# ----- batch and operations ----------------------------------------------------------------------


async def test_batch_reads_of_b_are_not_found(a_http: httpx.AsyncClient, world: World) -> None:
    b_obs = world.b.ids["Observation-lab"]
    urls = [
        f"Patient/{world.b.id}",
        f"Observation/{b_obs}",
        f"Observation/{b_obs}/_history/1",
        f"Observation?subject=Patient/{world.b.id}",
        f"Patient/{world.a.id}",
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": url}} for url in urls],
    }
    answer = await a_http.post("/", json=bundle)
    assert answer.status_code == 200, answer.text
    assert_no_b(answer, world)
    statuses = [entry["response"]["status"] for entry in answer.json()["entry"]]
    assert [status.split()[0] for status in statuses] == ["404", "404", "404", "200", "200"]
    search = answer.json()["entry"][3]["resource"]
    assert entry_resources(search) == []


async def test_validate_on_b_is_not_found(a_http: httpx.AsyncClient, world: World) -> None:
    b_obs = world.b.ids["Observation-lab"]
    for method in ("GET", "POST"):
        answer = await a_http.request(method, f"/Observation/{b_obs}/$validate")
        assert answer.status_code == 404, (method, answer.text)
        assert_no_b(answer, world)
    own = await a_http.get(f"/Observation/{world.a.ids['Observation-lab']}/$validate")
    assert own.status_code == 200, own.text


async def test_a_reads_its_own_binary_content(a_http: httpx.AsyncClient, world: World) -> None:
    """A Binary belongs to the compartment its securityContext names (the document's patient)."""
    answer = await a_http.get(f"/Binary/{world.a.ids['Binary']}", headers={"Accept": "*/*"})
    assert answer.status_code == 200, answer.text
    assert answer.content
    found = (await a_http.get("/Binary", params={"_id": world.a.ids["Binary"]})).json()
    assert len(found.get("entry", [])) == 1
