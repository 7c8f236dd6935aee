"""What the server cannot honour is refused when written (400/422 with the element), never accepted
silently; what it accepts is stored as ``requested`` until the server activates it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fhir_server.subscriptions.model import BACKPORT_PROFILE, CHANNEL_TYPE
from tests.subscriptions.builders import TOPICS, create, criteria_subscription, read, topic_subscription
from tests.subscriptions.conftest import SubAppFactory
from tests.support import client_for

HOOK = "http://127.0.0.1:9/hook"


def refused(response: httpx.Response, status: int, expression: str) -> str:
    assert response.status_code == status, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == [expression], issue
    return str(issue["diagnostics"])


@pytest.mark.parametrize("channel", ["email", "sms", "websocket", "message"])
async def test_channels_not_built_are_refused(shared_app: FastAPI, channel: str) -> None:
    app = shared_app
    body = criteria_subscription(HOOK, "Patient?family=x")
    body["channel"]["type"] = channel
    async with client_for(app) as client:
        message = refused(await client.post("/Subscription", json=body), 422, "Subscription.channel.type")
        assert "rest-hook only" in message
        listed = await read(client, "/Subscription")
        assert listed.get("entry", []) == []


async def test_a_backport_custom_channel_is_refused_too(shared_app: FastAPI) -> None:
    app = shared_app
    body = topic_subscription(HOOK, "document-added")
    body["channel"]["_type"] = {"extension": [{"url": CHANNEL_TYPE, "valueCoding": {"code": "zulip"}}]}
    async with client_for(app) as client:
        refused(await client.post("/Subscription", json=body), 422, "Subscription.channel.type")


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("http://lab.example.org/hook", "https"),
        ("https://lab.example.org/hook", "allow-list"),
        ("http://user:secret@127.0.0.1:9/hook", "credentials"),
        ("ftp://127.0.0.1/hook", "http(s)"),
    ],
)
async def test_endpoints_outside_the_allow_list_are_refused(
    shared_app: FastAPI, endpoint: str, why: str
) -> None:
    app = shared_app
    async with client_for(app) as client:
        response = await client.post(
            "/Subscription", json=criteria_subscription(endpoint, "Patient?family=x")
        )
        assert why in refused(response, 422, "Subscription.channel.endpoint")
        assert "secret" not in response.text


async def test_no_endpoint_is_allowed_by_default(sub_app_factory: SubAppFactory) -> None:
    app = await sub_app_factory(subscription_allowed_endpoints="[]")
    async with client_for(app) as client:
        response = await client.post("/Subscription", json=criteria_subscription(HOOK, "Patient?family=x"))
        refused(response, 422, "Subscription.channel.endpoint")


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        ({"criteria": "Patient?nonsense=1"}, 400, "Subscription.criteria"),
        ({"criteria": "Patient?_count=5"}, 400, "Subscription.criteria"),
        ({"criteria": "NoSuchType?x=1"}, 400, "Subscription.criteria"),
        ({"criteria": "not a search"}, 400, "Subscription.criteria"),
        (
            {"channel": {"type": "rest-hook", "endpoint": HOOK, "header": ["X-Bad: a\r\nInjected: b"]}},
            400,
            "Subscription.channel.header[0]",
        ),
        (
            {"channel": {"type": "rest-hook", "endpoint": HOOK, "header": ["Host: evil.example"]}},
            422,
            "Subscription.channel.header[0]",
        ),
        (
            {"channel": {"type": "rest-hook", "endpoint": HOOK, "payload": "application/fhir+xml"}},
            422,
            "Subscription.channel.payload",
        ),
    ],
)
async def test_criteria_and_channel_details_are_checked(
    shared_app: FastAPI, change: dict[str, Any], status: int, expression: str
) -> None:
    app = shared_app
    body = {**criteria_subscription(HOOK, "Patient?family=x"), **change}
    async with client_for(app) as client:
        refused(await client.post("/Subscription", json=body), status, expression)


async def test_topic_subscriptions_need_a_known_topic_and_allowed_filters(
    shared_app: FastAPI,
) -> None:
    app = shared_app
    async with client_for(app) as client:
        unknown = topic_subscription(HOOK, "http://example.org/SubscriptionTopic/none")
        refused(await client.post("/Subscription", json=unknown), 422, "Subscription.criteria")
        wrong_type = topic_subscription(HOOK, "document-added", filters=["Observation?patient=Patient/1"])
        refused(await client.post("/Subscription", json=wrong_type), 422, "Subscription.criteria.extension")
        not_offered = topic_subscription(
            HOOK, "document-added", filters=["DocumentReference?author=Practitioner/1"]
        )
        message = refused(
            await client.post("/Subscription", json=not_offered), 422, "Subscription.criteria.extension"
        )
        assert "author" in message
        too_often = topic_subscription(HOOK, "document-added", heartbeat=0)
        refused(await client.post("/Subscription", json=too_often), 400, "Subscription.channel.extension")


async def test_the_server_decides_the_status(sub_app_factory: SubAppFactory) -> None:
    app = await sub_app_factory(subscriptions_enabled=False)  # nobody activates it here
    async with client_for(app) as client:
        created = await create(
            client,
            {**criteria_subscription(HOOK, "Patient?family=x"), "status": "active", "error": "made up"},
        )
        assert created["status"] == "requested" and "error" not in created
        off = dict(created, status="off")
        assert (await client.put(f"/Subscription/{created['id']}", json=off)).json()["status"] == "off"


async def test_the_clinic_topics_are_served_and_read_only(shared_app: FastAPI) -> None:
    app = shared_app
    async with client_for(app) as client:
        found = await read(client, "/SubscriptionTopic?_count=50")
        urls = sorted(entry["resource"]["url"] for entry in found["entry"])
        assert urls == [
            TOPICS + name
            for name in (
                "appointment-booked",
                "appointment-cancelled",
                "appointment-reminder",
                "appointment-rescheduled",
                "document-added",
                "lab-result-final",
            )
        ]
        topic = await read(client, "/SubscriptionTopic/appointment-booked")
        changed = dict(topic, title="Something else")
        assert (await client.put("/SubscriptionTopic/appointment-booked", json=changed)).status_code == 405


async def test_a_topic_the_server_cannot_evaluate_is_refused(shared_app: FastAPI) -> None:
    app = shared_app
    topic = {
        "resourceType": "SubscriptionTopic",
        "url": "http://example.org/SubscriptionTopic/custom",
        "status": "active",
        "eventTrigger": [
            {
                "event": {"coding": [{"system": "http://example.org", "code": "lunar-eclipse"}]},
                "resource": "http://hl7.org/fhir/StructureDefinition/Patient",
            }
        ],
    }
    async with client_for(app) as client:
        refused(
            await client.post("/SubscriptionTopic", json=topic),
            422,
            "SubscriptionTopic.eventTrigger[0].event",
        )
        topic.pop("eventTrigger")
        topic["resourceTrigger"] = [{"resource": "Patient", "queryCriteria": {"current": "nonsense=1"}}]
        refused(
            await client.post("/SubscriptionTopic", json=topic),
            400,
            "SubscriptionTopic.resourceTrigger[0].queryCriteria.current",
        )
        topic["resourceTrigger"] = [{"resource": "Patient", "queryCriteria": {"current": "gender=female"}}]
        await create(client, topic)  # a topic it can evaluate is stored, and usable
        usable = topic_subscription(HOOK, "http://example.org/SubscriptionTopic/custom")
        await create(client, usable)


async def test_the_capability_statement_says_what_is_supported(shared_app: FastAPI) -> None:
    async with client_for(shared_app) as client:
        statement = await read(client, "/metadata")
    resources = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}
    subscription = resources["Subscription"]
    assert "rest-hook channel only" in subscription["documentation"]
    assert BACKPORT_PROFILE in subscription["supportedProfile"]
    operations = {op["name"]: op["definition"] for op in subscription["operation"]}
    assert operations["status"].endswith("/backport-subscription-status")
    assert operations["events"].endswith("/backport-subscription-events")
    assert "read-only" in resources["SubscriptionTopic"]["documentation"]
