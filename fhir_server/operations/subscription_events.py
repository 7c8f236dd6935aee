"""``Subscription/{id}/$events`` (Subscriptions R5 Backport IG): the events a subscription queued,
by number, so a receiver that saw a gap can catch up. Events are kept while undelivered and then
the last ``FHIR_SUBSCRIPTION_EVENT_RETENTION`` per subscription; at most 100 per call."""

from __future__ import annotations

from typing import Any, Final

from fhir_server.errors import BadRequest, FhirError, Unprocessable
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.interactions.outcome import Outcome
from fhir_server.parameters import first_value
from fhir_server.store.subscription_ledger import QueuedEvent, SubscriptionLedger
from fhir_server.subscriptions.model import Content, parse_subscription
from fhir_server.subscriptions.notifications import StatusFacts, notification_bundle

MAX_EVENTS: Final = 100

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Subscription-events",
    "url": "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events",
    "name": "SubscriptionEvents",
    "title": "Events of a subscription",
    "status": "active",
    "kind": "operation",
    "code": "events",
    "description": (
        "The events of a subscription still kept (undelivered ones and the last "
        "FHIR_SUBSCRIPTION_EVENT_RETENTION delivered), at most 100 per call, as a history Bundle "
        "with a SubscriptionStatus of type query-event first. Only events whose resource the caller "
        "may read are listed."
    ),
    "affectsState": False,
    "resource": ["Subscription"],
    "system": False,
    "type": False,
    "instance": True,
    "parameter": [
        {"name": "eventsSinceNumber", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "The first event number to return (default: the oldest kept)."},
        {"name": "eventsUntilNumber", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "The last event number to return (default: the latest)."},
        {"name": "content", "use": "in", "min": 0, "max": "1", "type": "code",
         "documentation": "empty, id-only or full-resource (default: the subscription's own)."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle"},
    ],
}  # fmt: skip


def _number(call: OperationCall, name: str) -> int | None:
    value = first_value(call.parameters, name)
    if value is None:
        return None
    text = str(value)
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise BadRequest(f"$events: {name} must be a whole number", (name,))
    return int(text)


def _content(call: OperationCall, default: Content) -> Content:
    value = first_value(call.parameters, "content")
    if value is None:
        return default
    try:
        return Content(str(value))
    except ValueError:
        raise BadRequest("$events: content is empty, id-only or full-resource", ("content",)) from None


async def events(call: OperationCall) -> Outcome:
    services = call.services
    assert call.resource_id is not None
    stored = services.guard.visible(
        call.ctx, await services.repository.read(resource_type="Subscription", resource_id=call.resource_id)
    )
    resource = stored.resource or {}
    try:
        spec = parse_subscription(resource)
    except FhirError as error:
        raise Unprocessable(f"the subscription cannot be read: {error.diagnostics}") from None
    since, until = _number(call, "eventsSinceNumber"), _number(call, "eventsUntilNumber")
    content = _content(call, spec.content)
    ledger = SubscriptionLedger(services.repository.db)
    found = await ledger.events(call.resource_id, after=(since or 1) - 1, until=until, limit=MAX_EVENTS)
    listed: list[QueuedEvent] = []
    resources: dict[str, dict[str, Any] | None] = {}
    for event in found:
        visible, version = await _version_seen(call, event)
        if visible:
            listed.append(event)
            resources[event.focus] = version
    facts = StatusFacts(
        subscription_id=call.resource_id,
        status=str(resource.get("status")),
        topic=spec.topic,
        events_since_start=await ledger.last_number(call.resource_id),
        error=resource.get("error"),
    )
    bundle = notification_bundle(
        facts,
        base_url=call.ctx.base_url,
        kind="query-event",
        events=listed,
        content=content,
        resources=resources,
    )
    return Outcome.ok(bundle)


async def _version_seen(call: OperationCall, event: QueuedEvent) -> tuple[bool, dict[str, Any] | None]:
    """Whether the caller may see the event's version, and the version (None for a deletion,
    visible when the caller could see what it removed)."""
    services = call.services
    resource_type, resource_id, _, number = event.focus.split("/")
    stored = await services.repository.version(
        resource_type=resource_type, resource_id=resource_id, version=int(number)
    )
    if stored is None:
        return False, None
    if stored.resource is not None:
        return services.guard.can_see(call.ctx, stored.resource), stored.resource
    return await services.guard.saw_before_deletion(call.ctx, stored), None


OPERATIONS = [
    OperationSpec(
        name="events",
        definition=DEFINITION,
        levels=frozenset({Level.INSTANCE}),
        handler=events,
        resource_types=("Subscription",),
    )
]
