"""Subscription resources for the tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from fhir_server.subscriptions.model import (
    BACKPORT_PROFILE,
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    MAX_COUNT,
    PAYLOAD_CONTENT,
)

TOPICS = "http://clinic.example.org/fhir/SubscriptionTopic/"
LAB_CATEGORY = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]
}


def criteria_subscription(
    endpoint: str,
    criteria: str,
    *,
    payload: str | None = None,
    headers: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint}
    if payload is not None:
        channel["payload"] = payload
    if headers:
        channel["header"] = headers
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "test",
        "criteria": criteria,
        "channel": channel,
        **extra,
    }


def topic_subscription(
    endpoint: str,
    topic: str,
    *,
    filters: list[str] = (),  # type: ignore[assignment]
    content: str = "full-resource",
    heartbeat: int | None = None,
    max_count: int | None = None,
    headers: list[str] | None = None,
) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "type": "rest-hook",
        "endpoint": endpoint,
        "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": content}]},
    }
    extensions = []
    if heartbeat is not None:
        extensions.append({"url": HEARTBEAT_PERIOD, "valueUnsignedInt": heartbeat})
    if max_count is not None:
        extensions.append({"url": MAX_COUNT, "valuePositiveInt": max_count})
    if extensions:
        channel["extension"] = extensions
    if headers:
        channel["header"] = headers
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "meta": {"profile": [BACKPORT_PROFILE]},
        "status": "requested",
        "reason": "test",
        "criteria": topic if "://" in topic else TOPICS + topic,
        "channel": channel,
    }
    if filters:
        resource["_criteria"] = {"extension": [{"url": FILTER_CRITERIA, "valueString": f} for f in filters]}
    return resource


def patient(family: str = "Doe") -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family}], "gender": "female"}


def observation(
    patient_id: str, *, code: str = "718-7", status: str = "final", lab: bool = True
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "valueQuantity": {"value": 13.2, "unit": "g/dL"},
    }
    if lab:
        resource["category"] = [LAB_CATEGORY]
    return resource


async def create(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await client.post(f"/{body['resourceType']}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def read(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def wait_status(
    client: httpx.AsyncClient, subscription_id: str, status: str, within: float = 20.0
) -> dict[str, Any]:
    """The Subscription once the server has set its status to ``status``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        resource = await read(client, f"/Subscription/{subscription_id}")
        if resource["status"] == status:
            return resource
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"status stayed {resource['status']}, expected {status}")
        await asyncio.sleep(0.1)
