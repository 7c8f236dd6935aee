"""The clinic's topics fire on the clinic's workflows: an appointment booked, moved with
$reschedule and cancelled with $cancel; a lab report turning final."""

from __future__ import annotations

import asyncio

from tests.subscriptions.builders import create, patient, topic_subscription, wait_status
from tests.subscriptions.conftest import SubAppFactory
from tests.subscriptions.receiver import Receiver
from tests.support import client_for


def _focus_ids(receiver: Receiver) -> list[str]:
    return [
        r.json()["entry"][1]["resource"]["id"] + "@" + r.json()["entry"][1]["resource"]["meta"]["versionId"]
        for r in receiver.of_kind("event-notification")
    ]


async def test_booked_rescheduled_and_cancelled_appointments(sub_app_factory: SubAppFactory) -> None:
    receivers = {name: Receiver() for name in ("booked", "rescheduled", "cancelled")}
    for receiver in receivers.values():
        receiver.up()
    try:
        app = await sub_app_factory()
        async with client_for(app) as client:
            subject = await create(client, patient())
            doctor = await create(client, {"resourceType": "Practitioner", "name": [{"family": "House"}]})
            for name, receiver in receivers.items():
                subscription = await create(
                    client,
                    topic_subscription(
                        receiver.url,
                        f"appointment-{name}",
                        filters=[f"Appointment?patient=Patient/{subject['id']}"],
                    ),
                )
                await wait_status(client, subscription["id"], "active")
            proposed = await create(
                client,
                {
                    "resourceType": "Appointment",
                    "status": "proposed",
                    "start": "2031-05-12T09:00:00Z",
                    "end": "2031-05-12T09:20:00Z",
                    "participant": [
                        {"actor": {"reference": f"Patient/{subject['id']}"}, "status": "accepted"},
                        {"actor": {"reference": f"Practitioner/{doctor['id']}"}, "status": "accepted"},
                    ],
                },
            )
            booked = dict(proposed, status="booked")
            assert (await client.put(f"/Appointment/{proposed['id']}", json=booked)).status_code == 200  # v2
            moved = await client.post(
                f"/Appointment/{proposed['id']}/$reschedule",
                json={
                    "resourceType": "Parameters",
                    "parameter": [
                        {"name": "start", "valueDateTime": "2031-05-12T10:00:00Z"},
                        {"name": "end", "valueDateTime": "2031-05-12T10:20:00Z"},
                    ],
                },
            )
            assert moved.status_code == 200, moved.text  # v3
            cancelled = await client.post(
                f"/Appointment/{proposed['id']}/$cancel", json={"resourceType": "Parameters"}
            )
            assert cancelled.status_code == 200, cancelled.text  # v4
            appointment = proposed["id"]
            await receivers["cancelled"].wait_for("event-notification", 1)
            await asyncio.sleep(1.0)
            assert _focus_ids(receivers["booked"]) == [f"{appointment}@2"]
            assert _focus_ids(receivers["rescheduled"]) == [f"{appointment}@3"]
            assert _focus_ids(receivers["cancelled"]) == [f"{appointment}@4"]
    finally:
        for receiver in receivers.values():
            receiver.down()


async def test_a_lab_report_is_notified_when_it_becomes_final(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    app = await sub_app_factory()
    async with client_for(app) as client:
        subject = await create(client, patient())
        subscription = await create(
            client, topic_subscription(receiver.url, "lab-result-final", content="id-only")
        )
        await wait_status(client, subscription["id"], "active")
        report = await create(
            client,
            {
                "resourceType": "DiagnosticReport",
                "status": "preliminary",
                "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
                "subject": {"reference": f"Patient/{subject['id']}"},
            },
        )
        final = dict(report, status="final")
        assert (await client.put(f"/DiagnosticReport/{report['id']}", json=final)).status_code == 200
        corrected = dict(final, conclusion="Corrected typo")  # final before and after: no new event
        assert (await client.put(f"/DiagnosticReport/{report['id']}", json=corrected)).status_code == 200
        notification = (await receiver.wait_for("event-notification", 1))[0].json()
        assert notification["entry"][1]["fullUrl"].endswith(f"/DiagnosticReport/{report['id']}")
        assert notification["entry"][1]["request"] == {
            "method": "PUT",
            "url": f"DiagnosticReport/{report['id']}",
        }
        await asyncio.sleep(1.0)
        assert len(receiver.of_kind("event-notification")) == 1
