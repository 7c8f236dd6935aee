"""What the CapabilityStatement says about subscriptions (beside the $status/$events operations)."""

from __future__ import annotations

from typing import Any

from fhir_server.subscriptions.model import BACKPORT_PROFILE

SUBSCRIPTION_DOCUMENTATION = (
    "Subscriptions deliver over the rest-hook channel only; other channel types (email, sms, websocket, "
    "message and custom ones) are refused with 422. Two forms: R4 criteria (a search on one type; "
    "notified on create and update of matching resources: an empty POST without payload, a PUT of the "
    "resource to {endpoint}/{type}/{id} with payload application/fhir+json, a notification Bundle with "
    "the backport payload-content id-only) and topic-based per the Subscriptions R5 Backport IG "
    "(backport-subscription profile; filter criteria, heartbeatPeriod, timeout, maxCount; payload "
    "content empty, id-only or full-resource; history notification Bundles with a SubscriptionStatus "
    "first; handshake on activation; $status and $events). Matching runs on every committed write with "
    "the search engine's semantics and the creator's access rights. Delivery is at-least-once, in event "
    "number order per subscription, with retries (exponential backoff, jitter); the status turns error "
    "after repeated failures and active again on success. Endpoints must be in the server's allow-list "
    "(https outside loopback)."
)
TOPIC_DOCUMENTATION = (
    "The clinic's topics (appointment booked, cancelled, rescheduled and reminder; lab result final; "
    "document added) are published read-only. Other topics may be stored: resource triggers with query "
    "criteria (previous/current, resultForCreate/resultForDelete, requireBoth) and fhirPathCriteria "
    "(%previous, %current); event triggers only for the events this server raises."
)


def subscription_capabilities() -> dict[str, dict[str, Any]]:
    """Additions to the CapabilityStatement's resource entries, by resource type."""
    return {
        "Subscription": {"documentation": SUBSCRIPTION_DOCUMENTATION, "supportedProfile": [BACKPORT_PROFILE]},
        "SubscriptionTopic": {"documentation": TOPIC_DOCUMENTATION},
    }
