"""Who and what may overlap: patients, rooms, roles, touching intervals, statuses that free time."""

from __future__ import annotations

import httpx

from tests.scheduling.builders import appointment, at, create, diagnostics
from tests.support import unique


def actors() -> tuple[str, str, str]:
    return f"Practitioner/{unique()}", f"Patient/{unique()}", f"Location/{unique()}"


async def test_the_same_patient_cannot_be_in_two_places(client: httpx.AsyncClient) -> None:
    _, patient, _ = actors()
    first = await create(client, appointment(f"Practitioner/{unique()}", patient, start=at(9), end=at(10)))
    clash = await client.post(
        "/Appointment", json=appointment(f"Practitioner/{unique()}", patient, start=at(9, 30), end=at(11))
    )
    assert clash.status_code == 409
    assert patient in diagnostics(clash) and f"Appointment/{first['id']}" in diagnostics(clash)


async def test_the_same_room_cannot_be_booked_twice(client: httpx.AsyncClient) -> None:
    _, _, room = actors()
    await create(client, appointment(f"Practitioner/{unique()}", room, start=at(9), end=at(10)))
    clash = await client.post(
        "/Appointment", json=appointment(f"Practitioner/{unique()}", room, start=at(8), end=at(12))
    )
    assert clash.status_code == 409 and room in diagnostics(clash)


async def test_touching_intervals_do_not_overlap(client: httpx.AsyncClient) -> None:
    doctor, patient, room = actors()
    await create(client, appointment(doctor, patient, room, start=at(9), end=at(10)))
    await create(client, appointment(doctor, patient, room, start=at(10), end=at(11)))
    await create(client, appointment(doctor, patient, room, start=at(8), end=at(9)))


async def test_other_participants_and_other_times_are_independent(client: httpx.AsyncClient) -> None:
    doctor, patient, _ = actors()
    await create(client, appointment(doctor, patient, start=at(9), end=at(10)))
    await create(
        client, appointment(f"Practitioner/{unique()}", f"Patient/{unique()}", start=at(9), end=at(10))
    )
    await create(
        client, appointment(doctor, patient, start=at(9, day="2031-05-13"), end=at(10, day="2031-05-13"))
    )


async def test_time_zones_are_compared_as_instants(client: httpx.AsyncClient) -> None:
    doctor, _, _ = actors()
    await create(
        client, appointment(doctor, start="2031-05-12T10:00:00+02:00", end="2031-05-12T11:00:00+02:00")
    )
    clash = await client.post("/Appointment", json=appointment(doctor, start=at(8, 30), end=at(9)))
    assert clash.status_code == 409


async def test_an_appointment_may_be_changed_within_its_own_time(client: httpx.AsyncClient) -> None:
    doctor, patient, _ = actors()
    booked = await create(client, appointment(doctor, patient, start=at(9), end=at(10)))
    longer = {**booked, "end": at(10, 30), "description": "longer"}
    response = await client.put(f"/Appointment/{booked['id']}", json=longer)
    assert response.status_code == 200, response.text


async def test_statuses_that_free_the_time(client: httpx.AsyncClient) -> None:
    for status in ("cancelled", "noshow", "entered-in-error"):
        doctor, _, _ = actors()
        booked = await create(client, appointment(doctor, start=at(9), end=at(10)))
        ended = await client.put(f"/Appointment/{booked['id']}", json={**booked, "status": status})
        assert ended.status_code == 200, ended.text
        await create(client, appointment(doctor, start=at(9), end=at(10)))


async def test_waitlist_entries_hold_no_time(client: httpx.AsyncClient) -> None:
    doctor, _, _ = actors()
    await create(client, appointment(doctor, start=at(9), end=at(10), status="waitlist"))
    await create(client, appointment(doctor, start=at(9), end=at(10), status="waitlist"))
    await create(client, appointment(doctor, start=at(9), end=at(10)))


async def test_fulfilled_appointments_keep_their_time(client: httpx.AsyncClient) -> None:
    doctor, _, _ = actors()
    past = await create(client, appointment(doctor, start=at(9), end=at(10), status="fulfilled"))
    clash = await client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10)))
    assert clash.status_code == 409 and f"Appointment/{past['id']}" in diagnostics(clash)


async def test_deleting_frees_the_time(client: httpx.AsyncClient) -> None:
    doctor, _, _ = actors()
    booked = await create(client, appointment(doctor, start=at(9), end=at(10)))
    assert (await client.delete(f"/Appointment/{booked['id']}")).status_code in (200, 204)
    await create(client, appointment(doctor, start=at(9), end=at(10)))


async def test_a_declined_participant_is_not_booked(client: httpx.AsyncClient) -> None:
    doctor, _, _ = actors()
    body = appointment(doctor, start=at(9), end=at(10))
    body["participant"][0]["status"] = "declined"
    await create(client, body)
    await create(client, appointment(doctor, start=at(9), end=at(10)))


async def test_a_practitioner_role_stands_for_its_practitioner(client: httpx.AsyncClient) -> None:
    doctor, _, _ = actors()
    role = await create(
        client, {"resourceType": "PractitionerRole", "active": True, "practitioner": {"reference": doctor}}
    )
    first = await create(client, appointment(f"PractitionerRole/{role['id']}", start=at(9), end=at(10)))
    clash = await client.post("/Appointment", json=appointment(doctor, start=at(9, 15), end=at(9, 45)))
    assert clash.status_code == 409 and f"Appointment/{first['id']}" in diagnostics(clash)


async def test_time_rules_are_422(client: httpx.AsyncClient) -> None:
    doctor, _, _ = actors()
    backwards = await client.post("/Appointment", json=appointment(doctor, start=at(10), end=at(9)))
    assert backwards.status_code == 422 and "end must be after" in diagnostics(backwards)
    untimed = appointment(doctor, start=at(10), end=at(11))
    del untimed["start"], untimed["end"]
    missing = await client.post("/Appointment", json=untimed)
    assert missing.status_code in (400, 422)
