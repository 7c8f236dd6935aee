"""Writes by a patient-context token for patient A (``patient/*.cruds``): nothing may be written into
B's compartment, no A resource may be moved to B, transactions roll back as a whole, conditional
writes never match (and so never reveal) B's resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from fhir_server.documents.upload_form import document_categories
from tests.security.leaks import assert_no_b, entry_resources
from tests.security.tokens import bearer, mint
from tests.security.world import (
    GLUCOSE,
    HEART_RATE,
    LAB_CATEGORY,
    MRN_SYSTEM,
    OBSERVATION_IDS,
    World,
    observation,
)
from tests.support import client_for, unique

JSON_PATCH = "application/json-patch+json"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def a_http(secured_app: FastAPI, world: World) -> AsyncIterator[httpx.AsyncClient]:
    token = mint(secured_app, "patient/*.cruds", patient=world.a.id)
    async with client_for(secured_app, **bearer(token)) as http:
        yield http


async def _observations_of(system_http: httpx.AsyncClient, patient: str) -> set[str]:
    answer = await system_http.get("/Observation", params={"subject": patient, "_count": "500"})
    return {resource["id"] for resource in entry_resources(answer.json())}


async def _own_observation(a_http: httpx.AsyncClient, world: World) -> dict[str, Any]:
    created = await a_http.post("/Observation", json=observation(world.a.ref(), LAB_CATEGORY, GLUCOSE))
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_creating_for_b_is_forbidden(a_http: httpx.AsyncClient, world: World) -> None:
    for body in (
        observation(world.b.ref(), LAB_CATEGORY, GLUCOSE),
        {
            "resourceType": "Encounter",
            "status": "planned",
            "class": {"code": "AMB"},
            "subject": {"reference": world.b.ref()},
        },
    ):
        answer = await a_http.post(f"/{body['resourceType']}", json=body)
        assert answer.status_code == 403, answer.text
        assert_no_b(answer, world)


async def test_moving_an_observation_to_b_is_forbidden(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    own = await _own_observation(a_http, world)
    moved = {**own, "subject": {"reference": world.b.ref()}}
    answer = await a_http.put(f"/Observation/{own['id']}", json=moved)
    assert answer.status_code == 403, answer.text
    patch = [{"op": "replace", "path": "/subject/reference", "value": world.b.ref()}]
    patched = await a_http.patch(
        f"/Observation/{own['id']}", content=_json(patch), headers={"Content-Type": JSON_PATCH}
    )
    assert patched.status_code == 403, patched.text
    stored = await system_http.get(f"/Observation/{own['id']}")
    assert stored.json()["subject"]["reference"] == world.a.ref()
    assert stored.json()["meta"]["versionId"] == "1"


async def test_taking_over_b_resources_fails_and_changes_nothing(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    b_obs = world.b.ids["Observation-lab"]
    hijack = {**observation(world.a.ref(), LAB_CATEGORY, GLUCOSE), "id": b_obs}
    answer = await a_http.put(f"/Observation/{b_obs}", json=hijack)
    assert answer.status_code in (403, 404), answer.text
    patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    patched = await a_http.patch(
        f"/Observation/{b_obs}", content=_json(patch), headers={"Content-Type": JSON_PATCH}
    )
    assert patched.status_code in (403, 404), patched.text
    deleted = await a_http.delete(f"/Observation/{b_obs}")
    # What A may not see does not exist for A: deleting it deletes nothing, as for an unknown id.
    assert deleted.status_code == 204, deleted.text
    assert (await a_http.delete("/Observation/never-existed")).status_code == 204
    for response in (answer, patched, deleted):
        assert_no_b(response, world)
    stored = (await system_http.get(f"/Observation/{b_obs}")).json()
    assert (stored["subject"]["reference"], stored["status"], stored["meta"]["versionId"]) == (
        world.b.ref(),
        "final",
        "1",
    )


async def test_a_deleted_b_id_cannot_be_taken_over(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    made = await system_http.post("/Observation", json=observation(world.b.ref(), LAB_CATEGORY, GLUCOSE))
    deleted_id = made.json()["id"]
    assert (await system_http.delete(f"/Observation/{deleted_id}")).status_code in (200, 204)
    takeover = {**observation(world.a.ref(), LAB_CATEGORY, GLUCOSE), "id": deleted_id}
    answer = await a_http.put(f"/Observation/{deleted_id}", json=takeover)
    assert answer.status_code in (403, 404), answer.text
    assert (await system_http.get(f"/Observation/{deleted_id}")).status_code == 410
    own = await _own_observation(a_http, world)
    assert (await a_http.delete(f"/Observation/{own['id']}")).status_code in (200, 204)
    revived = await a_http.put(f"/Observation/{own['id']}", json={**own, "status": "amended"})
    assert revived.status_code in (200, 201), revived.text  # its own deleted id: allowed as before


async def test_transaction_touching_b_is_refused_and_rolled_back(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    before_a = await _observations_of(system_http, world.a.ref())
    before_b = await _observations_of(system_http, world.b.ref())
    b_obs = world.b.ids["Observation-lab"]
    for b_entry in (
        {
            "request": {"method": "POST", "url": "Observation"},
            "resource": observation(world.b.ref(), LAB_CATEGORY, GLUCOSE),
        },
        {
            "request": {"method": "PUT", "url": f"Observation/{b_obs}"},
            "resource": {**observation(world.b.ref(), LAB_CATEGORY, HEART_RATE), "id": b_obs},
        },
        {
            "request": {"method": "PUT", "url": f"Observation/{b_obs}"},
            "resource": {**observation(world.a.ref(), LAB_CATEGORY, HEART_RATE), "id": b_obs},
        },
    ):
        a_entry = {
            "request": {"method": "POST", "url": "Observation"},
            "resource": observation(world.a.ref(), LAB_CATEGORY, GLUCOSE),
        }
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [a_entry, b_entry]}
        answer = await a_http.post("/", json=bundle)
        assert answer.status_code in (403, 404), answer.text
        assert_no_b(answer, world)
    assert await _observations_of(system_http, world.a.ref()) == before_a
    assert await _observations_of(system_http, world.b.ref()) == before_b
    assert (await system_http.get(f"/Observation/{b_obs}")).json()["meta"]["versionId"] == "1"


async def test_batch_writes_for_b_fail_alone(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    entries = [
        {
            "request": {"method": "POST", "url": "Observation"},
            "resource": observation(world.b.ref(), LAB_CATEGORY, GLUCOSE),
        },
        {"request": {"method": "GET", "url": f"Patient/{world.b.id}"}},
        {
            "request": {"method": "POST", "url": "Observation"},
            "resource": observation(world.a.ref(), LAB_CATEGORY, GLUCOSE),
        },
    ]
    answer = await a_http.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
    assert answer.status_code == 200, answer.text
    assert_no_b(answer, world)
    statuses = [entry["response"]["status"].split()[0] for entry in answer.json()["entry"]]
    assert statuses == ["403", "404", "201"]


async def test_conditional_writes_never_match_b(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    """A condition naming B's data must behave as if B's resources did not exist, and say nothing of them."""
    b_condition = f"identifier={OBSERVATION_IDS}|{world.b.obs_identifier}"
    body = observation(world.a.ref(), LAB_CATEGORY, GLUCOSE, unique("OBSA"))
    created = await a_http.post("/Observation", json=body, headers={"If-None-Exist": b_condition})
    assert created.status_code == 201, created.text
    assert created.json()["subject"]["reference"] == world.a.ref()
    assert_no_b(created, world)

    patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    patched = await a_http.patch(
        f"/Observation?{b_condition}", content=_json(patch), headers={"Content-Type": JSON_PATCH}
    )
    assert patched.status_code in (404, 412), patched.text
    assert_no_b(patched, world)

    updated = await a_http.put(f"/Observation?{b_condition}", json=body)
    assert updated.status_code in (200, 201), updated.text
    assert updated.json()["subject"]["reference"] == world.a.ref()
    assert_no_b(updated, world)

    code_of_both = f"code={GLUCOSE}"
    deleted = await a_http.delete(f"/Observation?{code_of_both}&subject={world.b.ref()}")
    assert deleted.status_code in (200, 204), deleted.text
    assert_no_b(deleted, world)
    b_obs = (await system_http.get(f"/Observation/{world.b.ids['Observation-lab']}")).json()
    assert (b_obs["status"], b_obs["meta"]["versionId"]) == ("final", "1")


async def test_conditional_references_never_resolve_to_b(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    """``Patient?identifier=<B's MRN>`` must answer like an unknown MRN, or it tells B exists."""
    before = await _observations_of(system_http, world.b.ref())
    answers = []
    for mrn in (world.b.mrn, unique("MRN-nobody")):
        reference = f"Patient?identifier={MRN_SYSTEM}|{mrn}"
        entry = {
            "request": {"method": "POST", "url": "Observation"},
            "resource": observation(reference, LAB_CATEGORY, GLUCOSE),
        }
        for kind in ("transaction", "batch"):
            answer = await a_http.post("/", json={"resourceType": "Bundle", "type": kind, "entry": [entry]})
            assert_no_b(answer, world)
            body = answer.json()
            outcome = body["entry"][0]["response"].get("outcome", body) if kind == "batch" else body
            status = (
                body["entry"][0]["response"]["status"].split()[0]
                if kind == "batch"
                else str(answer.status_code)
            )
            answers.append((kind, status, outcome["issue"][0]["code"]))
    assert answers[:2] == answers[2:], answers
    assert await _observations_of(system_http, world.b.ref()) == before


async def test_conditional_delete_over_both_deletes_only_a(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    code = unique("code")
    for patient in (world.a.ref(), world.b.ref()):
        made = await system_http.post("/Observation", json=observation(patient, LAB_CATEGORY, code))
        assert made.status_code == 201
    answer = await a_http.delete(f"/Observation?code={code}")
    assert answer.status_code in (200, 204), answer.text
    assert_no_b(answer, world)
    left = await system_http.get("/Observation", params={"code": code})
    assert [resource["subject"]["reference"] for resource in entry_resources(left.json())] == [world.b.ref()]


async def test_operations_on_b_resources_are_not_found(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    document, appointment = world.b.ids["DocumentReference"], world.b.ids["Appointment"]
    calls = [
        f"/DocumentReference/{document}/$expunge",
        f"/Binary/{world.b.ids['Binary']}/$expunge",
        f"/Appointment/{appointment}/$cancel",
        f"/Appointment/{appointment}/$reschedule",
    ]
    times = [
        {"name": "start", "valueDateTime": "2031-05-06T09:00:00Z"},
        {"name": "end", "valueDateTime": "2031-05-06T09:30:00Z"},
    ]
    for path in calls:
        answer = await a_http.post(path, json={"resourceType": "Parameters", "parameter": times})
        assert answer.status_code in (403, 404), (path, answer.status_code, answer.text)
        assert_no_b(answer, world)
    assert (await system_http.get(f"/DocumentReference/{document}")).status_code == 200
    stored = (await system_http.get(f"/Appointment/{appointment}")).json()
    assert (stored["status"], stored["meta"]["versionId"]) == ("booked", "1")


async def test_uploading_a_document_for_b_is_refused_like_for_nobody(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    category = next(iter(document_categories()))
    before = await system_http.get(
        "/DocumentReference", params={"subject": world.b.ref(), "_summary": "count"}
    )
    answers = []
    for patient in (world.b.ref(), "Patient/nobody-at-all"):
        answer = await a_http.post(
            "/DocumentReference/$upload",
            files={"file": ("note.txt", b"a note", "text/plain")},
            data={"patient": patient, "category": category},
        )
        assert_no_b(answer, world)
        answers.append((answer.status_code, answer.json()["issue"][0]["code"]))
    assert answers[0] == answers[1]
    assert answers[0][0] in (400, 403, 404)
    after = await system_http.get(
        "/DocumentReference", params={"subject": world.b.ref(), "_summary": "count"}
    )
    assert after.json()["total"] == before.json()["total"]


async def test_refused_delete_does_not_name_b_resources(
    a_http: httpx.AsyncClient, system_http: httpx.AsyncClient, world: World
) -> None:
    """B's Observation points at A's (not through a compartment link): deleting A's must not name it."""
    own = await _own_observation(a_http, world)
    pointer = {
        **observation(world.b.ref(), LAB_CATEGORY, GLUCOSE),
        "focus": [{"reference": f"Observation/{own['id']}"}],
    }
    made = await system_http.post("/Observation", json=pointer)
    assert made.status_code == 201, made.text
    answer = await a_http.delete(f"/Observation/{own['id']}")
    assert answer.status_code == 409, answer.text
    assert made.json()["id"] not in answer.text
    assert_no_b(answer, world)


def _json(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)
