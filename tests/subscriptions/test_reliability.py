"""Delivery you can trust: retries while the receiver is down (event numbers continuous, status
error then active), a restart between a write and its delivery (delivered after it, once),
$status and $events."""

from __future__ import annotations

import asyncio

from tests.subscriptions.builders import (
    create,
    criteria_subscription,
    observation,
    patient,
    read,
    topic_subscription,
    wait_status,
)
from tests.subscriptions.conftest import SubAppFactory, stop_app
from tests.subscriptions.receiver import Receiver
from tests.support import client_for


async def test_retries_while_the_receiver_is_down_then_delivers_in_order(
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
        await wait_status(client, subscription["id"], "active")
        receiver.down()
        ids = [
            (await create(client, observation(subject["id"], code=code)))["id"]
            for code in ("718-7", "2345-7", "789-8")
        ]
        failed = await wait_status(client, subscription["id"], "error")
        assert "could not be reached" in failed["error"]
        receiver.up()
        numbers = await receiver.events(3)
        assert numbers == [1, 2, 3]  # in order, none lost, none twice
        delivered = [r.json()["entry"][1]["resource"]["id"] for r in receiver.of_kind("event-notification")]
        assert delivered == ids
        recovered = await wait_status(client, subscription["id"], "active")
        assert "error" not in recovered


async def test_an_error_status_from_the_receiver_is_retried_like_a_refused_connection(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    app = await sub_app_factory()
    async with client_for(app) as client:
        subscription = await create(
            client, topic_subscription(receiver.url, "document-added", content="id-only")
        )
        await wait_status(client, subscription["id"], "active")
        receiver.status = 503
        subject = await create(client, patient())
        await create(
            client,
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "subject": {"reference": f"Patient/{subject['id']}"},
                "content": [{"attachment": {"contentType": "text/plain", "url": "http://example.org/a.txt"}}],
            },
        )
        failed = await wait_status(client, subscription["id"], "error")
        assert failed["error"] == "the endpoint answered 503"
        assert receiver.refused >= 2
        receiver.status = 200
        notification = (await receiver.wait_for("event-notification", 1))[0]
        entry = notification.json()["entry"][1]
        assert entry["request"]["method"] == "POST" and "resource" not in entry  # id-only
        await wait_status(client, subscription["id"], "active")


async def test_a_write_made_while_no_watcher_runs_is_delivered_after_the_restart_once(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    first = await sub_app_factory()
    database = first.state.settings.database_name
    async with client_for(first) as client:
        subscription = await create(client, criteria_subscription(receiver.url, "Patient?family=Restart"))
        await wait_status(client, subscription["id"], "active")
        await stop_app(first)  # the process goes away: its watcher and deliverer stop, leases returned
        await create(client, patient("Restart"))  # committed while nothing watches
        await asyncio.sleep(1.0)
        assert receiver.snapshot() == []
    second = await sub_app_factory(database_name=database)  # a new process on the same database
    pings = await receiver.wait_for(None, 1)
    await asyncio.sleep(2.0)
    assert len(receiver.snapshot()) == 1, [p.path for p in receiver.snapshot()]
    assert pings[0].method == "POST"
    async with client_for(second) as client:
        status = await read(client, f"/Subscription/{subscription['id']}/$status")
        assert status["entry"][0]["resource"]["eventsSinceSubscriptionStart"] == "1"


async def test_status_and_events_operations(sub_app_factory: SubAppFactory, receiver: Receiver) -> None:
    app = await sub_app_factory()
    async with client_for(app) as client:
        subject = await create(client, patient())
        subscription = await create(
            client,
            topic_subscription(
                receiver.url,
                "lab-result-final",
                filters=[f"Observation?patient=Patient/{subject['id']}"],
                max_count=5,
            ),
        )
        await wait_status(client, subscription["id"], "active")
        created = [
            await create(client, observation(subject["id"], code=c)) for c in ("718-7", "2345-7", "789-8")
        ]
        await receiver.events(3)

        status = await read(client, f"/Subscription/{subscription['id']}/$status")
        assert status["type"] == "searchset"
        resource = status["entry"][0]["resource"]
        assert resource["resourceType"] == "SubscriptionStatus"
        assert (resource["type"], resource["status"], resource["eventsSinceSubscriptionStart"]) == (
            "query-status",
            "active",
            "3",
        )
        assert resource["topic"].endswith("/lab-result-final")
        by_type = await read(client, f"/Subscription/$status?id={subscription['id']}")
        assert by_type["total"] == 1

        events = await read(client, f"/Subscription/{subscription['id']}/$events?eventsSinceNumber=2")
        assert events["type"] == "history"
        head = events["entry"][0]["resource"]
        assert head["type"] == "query-event"
        assert [e["eventNumber"] for e in head["notificationEvent"]] == ["2", "3"]
        assert [e["resource"]["id"] for e in events["entry"][1:]] == [created[1]["id"], created[2]["id"]]
        only_ids = await read(
            client,
            f"/Subscription/{subscription['id']}/$events?eventsSinceNumber=1&eventsUntilNumber=1&content=id-only",
        )
        assert len(only_ids["entry"]) == 2 and "resource" not in only_ids["entry"][1]
        bad = await client.get(f"/Subscription/{subscription['id']}/$events?eventsSinceNumber=x")
        assert bad.status_code == 400
        assert bad.json()["issue"][0]["expression"] == ["eventsSinceNumber"]
        missing = await client.get("/Subscription/nope/$status")
        assert missing.status_code == 404
