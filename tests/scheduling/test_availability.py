"""Bookings a clinic would refuse: in the past, of inactive practitioners or roles, outside the
availability a PractitionerRole or a Schedule declares; and a practitioner's free Slots turn busy
while the practitioner's time is booked without them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import AppFactory
from tests.scheduling.builders import appointment, at, create, schedule, slot
from tests.support import client_for

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _moment(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def _practitioner(client: httpx.AsyncClient, **extra: Any) -> str:
    created = await create(client, {"resourceType": "Practitioner", "name": [{"family": "Avail"}], **extra})
    return f"Practitioner/{created['id']}"


async def _patient(client: httpx.AsyncClient) -> str:
    return f"Patient/{(await create(client, {'resourceType': 'Patient'}))['id']}"


def _diagnostics(response: httpx.Response) -> str:
    return str(response.json()["issue"][0]["diagnostics"])


async def test_booking_in_the_past_is_refused_but_history_is_kept(client: httpx.AsyncClient) -> None:
    doctor, patient = await _practitioner(client), await _patient(client)
    past = appointment(doctor, patient, start=_moment(timedelta(hours=-3)), end=_moment(timedelta(hours=-2)))
    refused = await client.post("/Appointment", json=past)
    assert refused.status_code == 422
    assert "in the past" in _diagnostics(refused)
    # What took place in the past is a record, not a booking.
    fulfilled = await client.post("/Appointment", json={**past, "status": "fulfilled"})
    assert fulfilled.status_code == 201, fulfilled.text
    # Within the grace period (15 minutes by default) a late booking is still accepted.
    late = appointment(
        doctor, patient, start=_moment(timedelta(minutes=-5)), end=_moment(timedelta(minutes=25))
    )
    assert (await client.post("/Appointment", json=late)).status_code == 201


async def test_a_booked_appointment_whose_time_passed_can_still_be_updated(app_factory: AppFactory) -> None:
    app = await app_factory(booking_past_grace_minutes=0)
    async with client_for(app) as client:
        doctor, patient = await _practitioner(client), await _patient(client)
        soon = appointment(
            doctor, patient, start=_moment(timedelta(seconds=2)), end=_moment(timedelta(minutes=30))
        )
        booked = await create(client, soon)
        await asyncio.sleep(3)
        noted = {**booked, "comment": "patient called: running late"}
        assert (await client.put(f"/Appointment/{booked['id']}", json=noted)).status_code == 200
        arrived = {**noted, "status": "arrived"}
        assert (await client.put(f"/Appointment/{booked['id']}", json=arrived)).status_code == 200


async def test_inactive_practitioner_or_role_cannot_be_booked(client: httpx.AsyncClient) -> None:
    patient = await _patient(client)
    retired = await _practitioner(client, active=False)
    refused = await client.post("/Appointment", json=appointment(retired, patient, start=at(9), end=at(10)))
    assert refused.status_code == 422
    assert f"{retired} is not active" in _diagnostics(refused)
    active = await _practitioner(client)
    role = await create(
        client, {"resourceType": "PractitionerRole", "active": False, "practitioner": {"reference": active}}
    )
    by_role = await client.post(
        "/Appointment", json=appointment(f"PractitionerRole/{role['id']}", patient, start=at(9), end=at(10))
    )
    assert by_role.status_code == 422
    role_of_retired = await create(
        client, {"resourceType": "PractitionerRole", "active": True, "practitioner": {"reference": retired}}
    )
    through = await client.post(
        "/Appointment",
        json=appointment(f"PractitionerRole/{role_of_retired['id']}", patient, start=at(11), end=at(12)),
    )
    assert through.status_code == 422
    assert f"{retired} is not active" in _diagnostics(through)


async def test_declared_available_times_are_local_to_the_clinic(app_factory: AppFactory) -> None:
    app = await app_factory(clinic_timezone="Europe/Paris")
    async with client_for(app) as client:
        doctor, patient = await _practitioner(client), await _patient(client)
        await create(
            client,
            {
                "resourceType": "PractitionerRole",
                "active": True,
                "practitioner": {"reference": doctor},
                # 2031-05-12 is a Monday; Paris is UTC+2 in May.
                "availableTime": [
                    {"daysOfWeek": ["mon"], "availableStartTime": "09:00:00", "availableEndTime": "12:00:00"}
                ],
                "notAvailable": [{"description": "training", "during": {"start": at(8), "end": at(9)}}],
            },
        )
        inside = await client.post("/Appointment", json=appointment(doctor, patient, start=at(7), end=at(8)))
        assert inside.status_code == 201, inside.text  # 09:00-10:00 in Paris
        too_early = await client.post(
            "/Appointment", json=appointment(doctor, patient, start=at(6), end=at(7))
        )
        assert too_early.status_code == 422
        assert "availableTime" in _diagnostics(too_early)
        absent = await client.post("/Appointment", json=appointment(doctor, patient, start=at(8), end=at(9)))
        assert absent.status_code == 422
        assert "notAvailable" in _diagnostics(absent)
        tuesday = await client.post(
            "/Appointment",
            json=appointment(doctor, patient, start=at(8, day="2031-05-13"), end=at(9, day="2031-05-13")),
        )
        assert tuesday.status_code == 422


async def test_a_schedule_planning_horizon_bounds_bookings(client: httpx.AsyncClient) -> None:
    doctor, patient = await _practitioner(client), await _patient(client)
    await create(
        client, {**schedule(doctor), "planningHorizon": {"start": "2031-05-01", "end": "2031-05-31"}}
    )
    assert (
        await client.post("/Appointment", json=appointment(doctor, patient, start=at(9), end=at(10)))
    ).status_code == 201
    outside = await client.post(
        "/Appointment",
        json=appointment(doctor, patient, start=at(9, day="2031-06-02"), end=at(10, day="2031-06-02")),
    )
    assert outside.status_code == 422
    assert "planningHorizon" in _diagnostics(outside)


async def test_free_slots_turn_busy_while_the_practitioner_is_booked(client: httpx.AsyncClient) -> None:
    doctor, patient = await _practitioner(client), await _patient(client)
    calendar = await create(client, schedule(doctor))
    overlapped = await create(client, slot(calendar["id"], start=at(9), end=at(9, 30)))
    untouched = await create(client, slot(calendar["id"], start=at(10), end=at(10, 30)))
    booked = await create(client, appointment(doctor, patient, start=at(9, 15), end=at(9, 45)))

    async def status(slot_id: str) -> str:
        return str((await client.get(f"/Slot/{slot_id}")).json()["status"])

    assert await status(overlapped["id"]) == "busy"
    assert await status(untouched["id"]) == "free"
    free_search = await client.get(
        "/Slot", params={"schedule": f"Schedule/{calendar['id']}", "status": "free"}
    )
    assert [e["resource"]["id"] for e in free_search.json()["entry"]] == [untouched["id"]]
    moved = {**booked, "start": at(10), "end": at(10, 30)}
    assert (await client.put(f"/Appointment/{booked['id']}", json=moved)).status_code == 200
    assert await status(overlapped["id"]) == "free"
    assert await status(untouched["id"]) == "busy"
    cancelled = await client.post(f"/Appointment/{booked['id']}/$cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert await status(untouched["id"]) == "free"
