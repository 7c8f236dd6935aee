"""Appointment status workflow, $book, $cancel and $reschedule, and the slots they move."""

from __future__ import annotations

import httpx

from tests.scheduling.builders import appointment, at, create, diagnostics, parameters, read, schedule, slot
from tests.support import unique


async def _put_status(client: httpx.AsyncClient, body: dict[str, object], status: str) -> httpx.Response:
    return await client.put(f"/Appointment/{body['id']}", json={**body, "status": status})


async def _plan_with_slots(client: httpx.AsyncClient, doctor: str, *hours: int) -> list[dict[str, object]]:
    plan = await create(client, schedule(doctor))
    return [await create(client, slot(plan["id"], start=at(h), end=at(h, 30))) for h in hours]


async def test_the_happy_path_is_kept_in_history(client: httpx.AsyncClient) -> None:
    current = await create(
        client, appointment(f"Practitioner/{unique()}", start=at(9), end=at(10), status="proposed")
    )
    for status in ("pending", "booked", "arrived", "checked-in", "fulfilled"):
        response = await _put_status(client, current, status)
        assert response.status_code == 200, response.text
        current = response.json()
    history = (await client.get(f"/Appointment/{current['id']}/_history")).json()
    statuses = [entry["resource"]["status"] for entry in history["entry"]]
    assert statuses == ["fulfilled", "checked-in", "arrived", "booked", "pending", "proposed"]


async def test_a_refused_transition_names_from_and_to(client: httpx.AsyncClient) -> None:
    booked = await create(client, appointment(f"Practitioner/{unique()}", start=at(9), end=at(10)))
    back = await _put_status(client, booked, "proposed")
    assert back.status_code == 422
    assert "from 'booked' to 'proposed'" in diagnostics(back)
    cancelled = (await _put_status(client, booked, "cancelled")).json()
    revived = await _put_status(client, cancelled, "booked")
    assert revived.status_code == 422 and "from 'cancelled' to 'booked'" in diagnostics(revived)
    patched = await client.patch(
        f"/Appointment/{booked['id']}",
        json=[{"op": "replace", "path": "/status", "value": "arrived"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 422 and "from 'cancelled' to 'arrived'" in diagnostics(patched)


async def test_book_builds_the_appointment_from_the_slot(client: httpx.AsyncClient) -> None:
    doctor, patient = f"Practitioner/{unique()}", f"Patient/{unique()}"
    (free,) = await _plan_with_slots(client, doctor, 9)
    template = {
        "resourceType": "Appointment",
        "status": "booked",
        "description": "check-up",
        "participant": [],
    }
    response = await client.post(
        "/Appointment/$book",
        json=parameters(
            slot={"reference": f"Slot/{free['id']}"}, patient={"reference": patient}, appointment=template
        ),
    )
    assert response.status_code == 201, response.text
    assert response.headers["Location"].startswith("http://testserver/fhir/Appointment/")
    booked = response.json()
    assert (booked["start"], booked["end"], booked["description"]) == (free["start"], free["end"], "check-up")
    assert {p["actor"]["reference"] for p in booked["participant"]} == {doctor, patient}
    assert (await read(client, f"Slot/{free['id']}"))["status"] == "busy"
    again = await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{free['id']}"))
    assert again.status_code == 409


async def test_book_refuses_unknown_and_unfree_slots(client: httpx.AsyncClient) -> None:
    missing = await client.post("/Appointment/$book", json=parameters(slot="Slot/nope"))
    assert missing.status_code == 404
    no_slot = await client.post("/Appointment/$book", json=parameters(patient="Patient/x"))
    assert no_slot.status_code == 400
    plan = await create(client, schedule(f"Practitioner/{unique()}"))
    blocked = await create(client, slot(plan["id"], start=at(9), end=at(10), status="busy-unavailable"))
    taken = await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{blocked['id']}"))
    assert taken.status_code == 409 and "busy-unavailable" in diagnostics(taken)
    assert (await client.get("/Appointment/$book")).status_code in (404, 405)  # POST only


async def test_a_direct_post_with_a_slot_takes_it_and_cancelling_frees_it(client: httpx.AsyncClient) -> None:
    doctor = f"Practitioner/{unique()}"
    (free,) = await _plan_with_slots(client, doctor, 9)
    body = appointment(doctor, start=at(9), end=at(9, 30), slot=[{"reference": f"Slot/{free['id']}"}])
    booked = await create(client, body)
    assert (await read(client, f"Slot/{free['id']}"))["status"] == "busy"
    await _put_status(client, booked, "cancelled")
    assert (await read(client, f"Slot/{free['id']}"))["status"] == "free"


async def test_cancel_sets_reason_frees_time_and_slot_and_is_idempotent(client: httpx.AsyncClient) -> None:
    doctor = f"Practitioner/{unique()}"
    (free,) = await _plan_with_slots(client, doctor, 9)
    booked = (await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{free['id']}"))).json()
    response = await client.post(
        f"/Appointment/{booked['id']}/$cancel", json=parameters(reason="patient ill")
    )
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"] == {"text": "patient ill"}
    assert cancelled["meta"]["versionId"] == "2"
    assert (await read(client, f"Slot/{free['id']}"))["status"] == "free"
    again = await client.post(f"/Appointment/{booked['id']}/$cancel")
    assert again.status_code == 200 and again.json()["meta"]["versionId"] == "2"
    rebooked = await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{free['id']}"))
    assert rebooked.status_code == 201, rebooked.text


async def test_cancel_refuses_final_statuses_and_unknown_ids(client: httpx.AsyncClient) -> None:
    done = await create(
        client, appointment(f"Practitioner/{unique()}", start=at(9), end=at(10), status="fulfilled")
    )
    refused = await client.post(f"/Appointment/{done['id']}/$cancel")
    assert refused.status_code == 422 and "from 'fulfilled' to 'cancelled'" in diagnostics(refused)
    assert (await client.post("/Appointment/nope/$cancel")).status_code == 404


async def test_reschedule_to_a_new_time(client: httpx.AsyncClient) -> None:
    doctor = f"Practitioner/{unique()}"
    (free,) = await _plan_with_slots(client, doctor, 9)
    booked = (await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{free['id']}"))).json()
    response = await client.post(
        f"/Appointment/{booked['id']}/$reschedule", json=parameters(start=at(14), end=at(14, 45))
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["start"], moved["end"], moved["status"]) == (at(14), at(14, 45), "booked")
    assert "slot" not in moved
    assert (await read(client, f"Slot/{free['id']}"))["status"] == "free"
    await create(client, appointment(doctor, start=at(9), end=at(9, 30)))  # the old time is free


async def test_reschedule_to_a_new_slot_moves_the_slot_atomically(client: httpx.AsyncClient) -> None:
    doctor = f"Practitioner/{unique()}"
    first, second = await _plan_with_slots(client, doctor, 9, 11)
    booked = (await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{first['id']}"))).json()
    response = await client.post(
        f"/Appointment/{booked['id']}/$reschedule",
        json=parameters(slot={"reference": f"Slot/{second['id']}"}),
    )
    assert response.status_code == 200, response.text
    assert response.json()["slot"] == [{"reference": f"Slot/{second['id']}"}]
    assert (await read(client, f"Slot/{first['id']}"))["status"] == "free"
    assert (await read(client, f"Slot/{second['id']}"))["status"] == "busy"


async def test_a_refused_reschedule_changes_nothing(client: httpx.AsyncClient) -> None:
    doctor = f"Practitioner/{unique()}"
    first, second = await _plan_with_slots(client, doctor, 9, 11)
    mine = (await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{first['id']}"))).json()
    other = (await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{second['id']}"))).json()
    clash = await client.post(
        f"/Appointment/{mine['id']}/$reschedule", json=parameters(slot=f"Slot/{second['id']}")
    )
    assert clash.status_code == 409 and f"Appointment/{other['id']}" in diagnostics(clash)
    assert (await read(client, f"Appointment/{mine['id']}"))["meta"]["versionId"] == "1"
    assert (await read(client, f"Slot/{first['id']}"))["status"] == "busy"


async def test_reschedule_parameter_errors(client: httpx.AsyncClient) -> None:
    booked = await create(client, appointment(f"Practitioner/{unique()}", start=at(9), end=at(10)))
    url = f"/Appointment/{booked['id']}/$reschedule"
    assert (await client.post(url, json=parameters())).status_code == 400
    assert (await client.post(url, json=parameters(start=at(11)))).status_code == 400
    assert (
        await client.post(url, json=parameters(start=at(11), end=at(12), slot="Slot/x"))
    ).status_code == 400
    backwards = await client.post(url, json=parameters(start=at(12), end=at(11)))
    assert backwards.status_code == 422
    cancelled = (await _put_status(client, booked, "cancelled")).json()
    late = await client.post(
        f"/Appointment/{cancelled['id']}/$reschedule", json=parameters(start=at(11), end=at(12))
    )
    assert late.status_code == 422 and "cancelled" in diagnostics(late)


async def test_an_unknown_slot_is_422_and_a_waitlist_entry_takes_no_slot(client: httpx.AsyncClient) -> None:
    doctor = f"Practitioner/{unique()}"
    body = appointment(doctor, start=at(9), end=at(9, 30), slot=[{"reference": "Slot/nope"}])
    unknown = await client.post("/Appointment", json=body)
    assert unknown.status_code == 422 and "Slot/nope" in diagnostics(unknown)
    (free,) = await _plan_with_slots(client, doctor, 9)
    wish = appointment(
        doctor, start=at(9), end=at(9, 30), status="waitlist", slot=[{"reference": f"Slot/{free['id']}"}]
    )
    waiting = await create(client, wish)
    assert (await read(client, f"Slot/{free['id']}"))["status"] == "free"
    promoted = await _put_status(client, waiting, "booked")
    assert promoted.status_code == 200, promoted.text
    assert (await read(client, f"Slot/{free['id']}"))["status"] == "busy"
