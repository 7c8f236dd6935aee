"""Notifications reach a real receiver: handshake, matching writes (REST and transaction entries),
nothing for writes that do not match, R4 criteria payloads and channel headers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.subscriptions.builders import (
    create,
    criteria_subscription,
    observation,
    patient,
    topic_subscription,
    wait_status,
)
from tests.subscriptions.conftest import SubAppFactory
from tests.subscriptions.receiver import Receiver
from tests.support import client_for


async def test_handshake_then_events_for_matching_create_and_update_only(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    app = await sub_app_factory()
    async with client_for(app) as client:
        subject = await create(client, patient())
        subscription = await create(
            client,
            topic_subscription(
                receiver.url, "lab-result-final", filters=[f"Observation?patient=Patient/{subject['id']}"]
            ),
        )
        assert subscription["status"] == "requested"
        handshake = (await receiver.wait_for("handshake", 1))[0]
        status = handshake.json()["entry"][0]
        assert status["resource"]["subscription"]["reference"].endswith(f"/Subscription/{subscription['id']}")
        assert status["request"]["url"].endswith(f"/Subscription/{subscription['id']}/$status")
        await wait_status(client, subscription["id"], "active")

        preliminary = await create(client, observation(subject["id"], status="preliminary"))
        other = await create(client, patient("Other"))
        await create(client, observation(other["id"]))  # final, but another patient: filtered out
        final = dict(preliminary, status="final")
        updated = await client.put(f"/Observation/{preliminary['id']}", json=final)
        assert updated.status_code == 200

        notification = (await receiver.wait_for("event-notification", 1))[0]
        bundle = notification.json()
        assert bundle["type"] == "history"
        assert notification.headers["Content-Type"] == "application/fhir+json"
        event = bundle["entry"][0]["resource"]["notificationEvent"][0]
        assert event["eventNumber"] == "1"
        assert event["focus"]["reference"].endswith(f"/Observation/{preliminary['id']}")
        focus = bundle["entry"][1]
        assert focus["request"] == {"method": "PUT", "url": f"Observation/{preliminary['id']}"}
        assert focus["resource"]["status"] == "final"
        assert focus["resource"]["meta"]["versionId"] == "2"
        await asyncio.sleep(1.0)  # nothing else arrives: the preliminary one and the other patient's
        assert len(receiver.of_kind("event-notification")) == 1


async def test_a_transaction_entry_is_notified_like_a_rest_write(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    app = await sub_app_factory()
    async with client_for(app) as client:
        subscription = await create(
            client, criteria_subscription(receiver.url, "Observation?code=http://loinc.org|2345-7")
        )
        await wait_status(client, subscription["id"], "active")
        subject = await create(client, patient())
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": observation(subject["id"], code="2345-7"),
                    "request": {"method": "POST", "url": "Observation"},
                },
                {
                    "resource": observation(subject["id"], code="718-7"),
                    "request": {"method": "POST", "url": "Observation"},
                },
            ],
        }
        response = await client.post("", json=bundle)
        assert response.status_code == 200, response.text
        pings = await receiver.wait_for(None, 1)
        await asyncio.sleep(1.0)
        pings = receiver.snapshot()
        # R4 rest-hook without payload: one empty POST per matching resource, here one.
        assert [(p.method, p.path, p.body) for p in pings] == [("POST", "/hook", b"")]


async def test_full_payload_is_put_to_the_endpoint_with_the_channel_headers_never_logged(
    sub_app_factory: SubAppFactory, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Bearer s3cr3t-token-for-the-lab"
    caplog.set_level(logging.DEBUG)
    app = await sub_app_factory()
    async with client_for(app) as client:
        await create(
            client,
            criteria_subscription(
                receiver.url,
                "Patient?family=Kowalski",
                payload="application/fhir+json",
                headers=[f"Authorization: {secret}"],
            ),
        )
        created = await create(client, patient("Kowalski"))
        put = (await receiver.wait_for(None, 1))[0]
        assert put.method == "PUT"
        assert put.path == f"/hook/Patient/{created['id']}"
        assert put.headers["Authorization"] == secret
        assert put.json()["id"] == created["id"]
    assert secret not in caplog.text
    assert "s3cr3t" not in caplog.text
