"""Time-driven notifications with the machinery's clock moved by hand: heartbeats (counted, not
timed) and the appointment reminder for an appointment a minute ahead."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fhir_server.store.repository import instant
from tests.subscriptions.builders import create, patient, topic_subscription, wait_status
from tests.subscriptions.conftest import ManualClock, SubAppFactory
from tests.subscriptions.receiver import Receiver
from tests.support import client_for


async def test_one_heartbeat_per_period_and_none_in_between(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    clock = ManualClock()
    app = await sub_app_factory(clock=clock)
    async with client_for(app) as client:
        subscription = await create(client, topic_subscription(receiver.url, "document-added", heartbeat=5))
        await wait_status(client, subscription["id"], "active")
        await asyncio.sleep(1.0)
        assert receiver.of_kind("heartbeat") == []  # no time has passed for the machinery
        for expected in (1, 2, 3):
            clock.advance(5)
            await receiver.wait_for("heartbeat", expected)
        clock.advance(4)  # less than a period
        await asyncio.sleep(1.0)
        heartbeats = receiver.of_kind("heartbeat")
        assert len(heartbeats) == 3
        status = heartbeats[-1].json()["entry"][0]["resource"]
        assert status["type"] == "heartbeat" and status["eventsSinceSubscriptionStart"] == "0"
        assert len(heartbeats[-1].json()["entry"]) == 1


async def test_the_reminder_fires_once_the_lead_time_before_start(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    clock = ManualClock()
    start = clock.now() + timedelta(seconds=90)  # lead time in the tests: 60 s
    app = await sub_app_factory(clock=clock)
    async with client_for(app) as client:
        subject = await create(client, patient())
        doctor = await create(client, {"resourceType": "Practitioner", "name": [{"family": "Who"}]})
        other = await create(client, patient("Other"))
        subscription = await create(
            client,
            topic_subscription(
                receiver.url, "appointment-reminder", filters=[f"Appointment?patient=Patient/{subject['id']}"]
            ),
        )
        await wait_status(client, subscription["id"], "active")

        def appointment(patient_id: str) -> dict[str, object]:
            return {
                "resourceType": "Appointment",
                "status": "booked",
                "start": instant(start),
                "end": instant(start + timedelta(minutes=20)),
                "participant": [
                    {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/{doctor['id']}"}, "status": "accepted"},
                ],
            }

        booked = await create(client, appointment(subject["id"]))
        later = dict(appointment(other["id"]))
        later["start"] = instant(start + timedelta(minutes=30))
        later["end"] = instant(start + timedelta(minutes=40))
        await create(client, later)  # another patient's: filtered out
        await asyncio.sleep(0.5)
        clock.advance(20)  # reminders due up to now + 60 s = start - 10 s: not yet
        await asyncio.sleep(1.0)
        assert receiver.of_kind("event-notification") == []
        clock.advance(15)  # now + 60 s passes the start - 60 s mark
        reminder = (await receiver.wait_for("event-notification", 1))[0].json()
        status = reminder["entry"][0]["resource"]
        assert status["topic"].endswith("/appointment-reminder")
        assert status["notificationEvent"][0]["focus"]["reference"].endswith(f"/Appointment/{booked['id']}")
        assert reminder["entry"][1]["resource"]["id"] == booked["id"]
        clock.advance(60)
        await asyncio.sleep(1.0)
        assert len(receiver.of_kind("event-notification")) == 1  # once
