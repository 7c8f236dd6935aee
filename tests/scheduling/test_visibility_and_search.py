"""A conflict names the other appointment only to callers allowed to see it; free slots are found
by plain search."""

from __future__ import annotations

from typing import Any

import httpx

from fhir_server.auth.devtoken import make_dev_token
from tests.scheduling.builders import appointment, at, create, diagnostics, parameters, schedule, slot
from tests.support import client_for, unique


async def test_conflicts_name_only_appointments_the_caller_may_see(app_factory: Any) -> None:
    app = await app_factory(auth_enabled=True)
    settings = app.state.settings
    doctor, alice, bob = f"Practitioner/{unique()}", unique("alice"), unique("bob")
    staff = make_dev_token(settings=settings, scope="user/Appointment.cruds")
    patient = make_dev_token(settings=settings, scope="patient/Appointment.cruds", patient=alice)
    async with client_for(app, Authorization=f"Bearer {staff}") as as_staff:
        bobs = await create(as_staff, appointment(doctor, f"Patient/{bob}", start=at(9), end=at(10)))
        wanted = appointment(doctor, f"Patient/{alice}", start=at(9, 30), end=at(10, 30))
        seen = await as_staff.post("/Appointment", json=wanted)
    async with client_for(app, Authorization=f"Bearer {patient}") as as_alice:
        hidden = await as_alice.post("/Appointment", json=wanted)
    assert seen.status_code == 409 and f"Appointment/{bobs['id']}" in diagnostics(seen)
    assert hidden.status_code == 409, hidden.text
    assert doctor in diagnostics(hidden) and bobs["id"] not in hidden.text


async def test_free_slots_of_a_schedule_are_found_by_search(client: httpx.AsyncClient) -> None:
    plan = await create(client, schedule(f"Practitioner/{unique()}"))
    slots = [await create(client, slot(plan["id"], start=at(h), end=at(h, 30))) for h in (8, 9, 10, 11)]
    booked = await client.post("/Appointment/$book", json=parameters(slot=f"Slot/{slots[2]['id']}"))
    assert booked.status_code == 201
    found = await client.get(
        "/Slot",
        params={
            "schedule": f"Schedule/{plan['id']}",
            "status": "free",
            "start": f"ge{at(9)}",
            "_sort": "start",
        },
    )
    assert found.status_code == 200, found.text
    ids = [entry["resource"]["id"] for entry in found.json().get("entry", [])]
    assert ids == [slots[1]["id"], slots[3]["id"]]
