"""Appointments, schedules and slots for the scheduling tests, and small request helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

import httpx

DAY = "2031-05-12"


def at(hour: int, minute: int = 0, day: str = DAY) -> str:
    return f"{day}T{hour:02d}:{minute:02d}:00Z"


def appointment(*actors: str, start: str, end: str, status: str = "booked", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": status,
        "start": start,
        "end": end,
        "participant": [{"actor": {"reference": actor}, "status": "accepted"} for actor in actors],
        **extra,
    }


def schedule(*actors: str) -> dict[str, Any]:
    return {"resourceType": "Schedule", "active": True, "actor": [{"reference": a} for a in actors]}


def slot(schedule_id: str, *, start: str, end: str, status: str = "free") -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "schedule": {"reference": f"Schedule/{schedule_id}"},
        "status": status,
        "start": start,
        "end": end,
    }


def parameters(**values: Any) -> dict[str, Any]:
    """A Parameters body: dict values are references, strings valueString, resources as resource."""
    entries = []
    for name, value in values.items():
        if isinstance(value, dict) and "resourceType" in value:
            entries.append({"name": name, "resource": value})
        elif isinstance(value, dict):
            entries.append({"name": name, "valueReference": value})
        else:
            entries.append({"name": name, "valueString": value})
    return {"resourceType": "Parameters", "parameter": entries}


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/{body['resourceType']}", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def read(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(f"/{path}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def together(requests: Sequence[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """Send the requests concurrently (they interleave on the event loop through the ASGI app)."""
    return list(await asyncio.gather(*requests))


def diagnostics(response: httpx.Response) -> str:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return " ".join(issue.get("diagnostics", "") for issue in outcome["issue"])


def assert_one_winner(responses: list[httpx.Response], success: int) -> httpx.Response:
    """Exactly one response has ``success``; every other one is a 409 naming the winner."""
    statuses = sorted(r.status_code for r in responses)
    assert statuses == sorted([success] + [409] * (len(responses) - 1)), [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == success)
    winner_id = _winning_appointment(winner)
    for loser in responses:
        if loser is not winner:
            assert f"Appointment/{winner_id}" in diagnostics(loser)
    return winner


def _winning_appointment(response: httpx.Response) -> str:
    body = response.json()
    if body["resourceType"] == "Bundle":
        location: str = body["entry"][0]["response"]["location"]  # Appointment/<id>/_history/1
        return location.split("Appointment/")[1].split("/")[0]
    winner_id: str = body["id"]
    return winner_id
