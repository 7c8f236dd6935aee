"""Notification Bundles (Subscriptions R5 Backport IG on R4B) and what ``$status``/``$events`` answer.

A notification is a ``history`` Bundle whose first entry is a SubscriptionStatus (handshake,
heartbeat, event-notification, query-event) with the subscription's event counter and one
``notificationEvent`` per event; for ``id-only`` and ``full-resource`` content each event's focus
follows as an entry (with the resource for ``full-resource``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from fhir_server.store.repository import instant
from fhir_server.store.subscription_ledger import QueuedEvent
from fhir_server.subscriptions.model import Content

NOTIFICATION_PROFILE: Final = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification"
)
# The request and response a history Bundle entry records for the write that made the version.
_ENTRY_REQUEST: Final = {"POST": "201", "PUT": "200", "DELETE": "204", "EVENT": "200"}


@dataclass(frozen=True)
class StatusFacts:
    """What a SubscriptionStatus says about its subscription."""

    subscription_id: str
    status: str  # requested | active | error | off
    topic: str | None
    events_since_start: int
    error: str | None = None


def _focus_url(base_url: str, focus: str) -> str:
    """The focus's full URL without its version (``Type/id``)."""
    resource_type, resource_id = focus.split("/")[:2]
    return f"{base_url}/{resource_type}/{resource_id}"


def subscription_status(
    facts: StatusFacts,
    *,
    base_url: str,
    kind: str,
    events: Sequence[QueuedEvent] = (),
) -> dict[str, Any]:
    """A SubscriptionStatus resource (``kind``: handshake, heartbeat, event-notification,
    query-status, query-event)."""
    status: dict[str, Any] = {
        "resourceType": "SubscriptionStatus",
        "id": str(uuid.uuid4()),
        "status": facts.status,
        "type": kind,
        "eventsSinceSubscriptionStart": str(facts.events_since_start),
        "subscription": {"reference": f"{base_url}/Subscription/{facts.subscription_id}"},
    }
    if facts.topic:
        status["topic"] = facts.topic
    if events:
        status["notificationEvent"] = [
            {
                "eventNumber": str(event.number),
                "timestamp": instant(event.at),
                "focus": {"reference": _focus_url(base_url, event.focus)},
            }
            for event in events
        ]
    if facts.error:
        status["error"] = [{"text": facts.error}]
    return status


def _status_entry(status: dict[str, Any], base_url: str, subscription_id: str) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{status['id']}",
        "resource": status,
        "request": {"method": "GET", "url": f"{base_url}/Subscription/{subscription_id}/$status"},
        "response": {"status": "200"},
    }


def _focus_entry(
    event: QueuedEvent, base_url: str, content: Content, resources: Mapping[str, dict[str, Any] | None]
) -> dict[str, Any]:
    resource_type, resource_id = event.focus.split("/")[:2]
    method = "GET" if event.method == "EVENT" else event.method
    entry: dict[str, Any] = {
        "fullUrl": _focus_url(base_url, event.focus),
        "request": {
            "method": method,
            "url": resource_type if method == "POST" else f"{resource_type}/{resource_id}",
        },
        "response": {"status": _ENTRY_REQUEST.get(event.method, "200")},
    }
    resource = resources.get(event.focus)
    if content is Content.FULL and resource is not None:
        entry["resource"] = resource
    return entry


def notification_bundle(
    facts: StatusFacts,
    *,
    base_url: str,
    kind: str,
    events: Sequence[QueuedEvent] = (),
    content: Content = Content.EMPTY,
    resources: Mapping[str, dict[str, Any] | None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The history Bundle posted to a rest-hook endpoint (and answered by ``$events``).

    ``resources`` maps an event's focus (``Type/id/_history/v``) to that version, for
    ``full-resource`` content; a focus missing from it (deleted, or not visible) is named only.
    """
    status = subscription_status(facts, base_url=base_url, kind=kind, events=events)
    entries = [_status_entry(status, base_url, facts.subscription_id)]
    if content is not Content.EMPTY:
        entries += [_focus_entry(event, base_url, content, resources or {}) for event in events]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": instant(now or datetime.now(UTC)),
        "entry": entries,
    }


def status_bundle(statuses: Sequence[dict[str, Any]], *, base_url: str) -> dict[str, Any]:
    """What ``$status`` answers: a searchset of SubscriptionStatus resources."""
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
        "total": len(statuses),
        "entry": [
            {"fullUrl": f"urn:uuid:{status['id']}", "resource": status, "search": {"mode": "match"}}
            for status in statuses
        ],
    }
