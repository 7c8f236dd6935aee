"""``Subscription/$status`` and ``Subscription/{id}/$status`` (Subscriptions R5 Backport IG): the
status of subscriptions the caller may read, as SubscriptionStatus resources in a searchset."""

from __future__ import annotations

from typing import Any, Final

from fhir_server.context import Interaction
from fhir_server.errors import NotFound
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.interactions.outcome import Outcome
from fhir_server.parameters import parameter_values
from fhir_server.store.subscription_ledger import SubscriptionLedger
from fhir_server.subscriptions.notifications import StatusFacts, status_bundle, subscription_status

MAX_SUBSCRIPTIONS: Final = 100

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Subscription-status",
    "url": "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status",
    "name": "SubscriptionStatus",
    "title": "Status of subscriptions",
    "status": "active",
    "kind": "operation",
    "code": "status",
    "description": (
        "The current status of one subscription (instance level) or of those named by 'id' (type "
        "level; without 'id', every subscription the caller may read, up to 100): status, the number "
        "of events since the subscription started and the last error, as SubscriptionStatus "
        "resources of type query-status in a searchset Bundle."
    ),
    "affectsState": False,
    "resource": ["Subscription"],
    "system": False,
    "type": True,
    "instance": True,
    "parameter": [
        {"name": "id", "use": "in", "min": 0, "max": "*", "type": "id",
         "documentation": "Type level: the subscriptions to report on."},
        {"name": "status", "use": "in", "min": 0, "max": "*", "type": "code",
         "documentation": "Type level: only subscriptions with one of these statuses."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle"},
    ],
}  # fmt: skip


def _strings(call: OperationCall, name: str) -> list[str]:
    values: list[str] = []
    for parameter in parameter_values(call.parameters, name):
        for key, value in parameter.items():
            if key.startswith("value") and isinstance(value, str):
                values.extend(part for part in value.split(",") if part)
    return values


async def status(call: OperationCall) -> Outcome:
    services = call.services
    ledger = SubscriptionLedger(services.repository.db)
    if call.resource_id is not None:
        ids = [call.resource_id]
    else:
        ids = _strings(call, "id") or await services.search.find_ids(
            resource_type="Subscription", params=[], limit=MAX_SUBSCRIPTIONS, ctx=call.ctx, gate=services.gate
        )
    wanted = set(_strings(call, "status"))
    statuses = []
    for subscription_id in ids[:MAX_SUBSCRIPTIONS]:
        try:
            stored = services.guard.visible(
                call.ctx,
                await services.repository.read(resource_type="Subscription", resource_id=subscription_id),
            )
        except NotFound:
            if call.resource_id is not None:
                raise
            continue
        resource = stored.resource or {}
        if wanted and resource.get("status") not in wanted:
            continue
        facts = StatusFacts(
            subscription_id=subscription_id,
            status=str(resource.get("status")),
            topic=resource.get("criteria") if _is_url(resource.get("criteria")) else None,
            events_since_start=await ledger.last_number(subscription_id),
            error=resource.get("error"),
        )
        statuses.append(subscription_status(facts, base_url=call.ctx.base_url, kind="query-status"))
    return Outcome.ok(status_bundle(statuses, base_url=call.ctx.base_url))


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://", "urn:"))


OPERATIONS = [
    OperationSpec(
        name="status",
        definition=DEFINITION,
        levels=frozenset({Level.TYPE, Level.INSTANCE}),
        handler=status,
        resource_types=("Subscription",),
        interaction=Interaction.READ,
    )
]
