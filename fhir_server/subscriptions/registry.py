"""The subscriptions and topics the watcher matches against, kept in memory and in step with the
change stream (a Subscription or SubscriptionTopic change reloads that one resource)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from fhir_server.errors import FhirError
from fhir_server.store.repository import ResourceRepository
from fhir_server.store.subscription_ledger import SubscriptionLedger, SubscriptionState
from fhir_server.subscriptions.model import Kind, SubscriptionSpec, parse_subscription
from fhir_server.subscriptions.owner import Creator
from fhir_server.subscriptions.topics import Topic, parse_topic

logger = logging.getLogger(__name__)

# Statuses in which changes are matched and queued (``requested`` and ``error`` too: events wait
# for the handshake, or for the receiver to come back).
MATCHING_STATUSES: Final = frozenset({"requested", "active", "error"})


@dataclass(frozen=True)
class Active:
    spec: SubscriptionSpec
    creator: Creator

    @property
    def id(self) -> str:
        return self.spec.id


class SubscriptionRegistry:
    def __init__(self, repository: ResourceRepository, ledger: SubscriptionLedger) -> None:
        self._repository = repository
        self._ledger = ledger
        self.subscriptions: dict[str, Active] = {}
        self.topics: dict[str, Topic] = {}
        self._topic_urls: dict[str, str] = {}  # SubscriptionTopic id -> url

    async def load(self) -> None:
        """Read every SubscriptionTopic and every Subscription that may receive events."""
        await self._repository.ensure_collections(["Subscription", "SubscriptionTopic"])
        self.topics.clear()
        self._topic_urls.clear()
        async for resource in self._repository.all_current("SubscriptionTopic"):
            self._put_topic(resource)
        resources = [resource async for resource in self._repository.all_current("Subscription")]
        states = await self._ledger.states([str(r.get("id")) for r in resources])
        self.subscriptions.clear()
        for resource in resources:
            self._put_subscription(resource, states.get(str(resource.get("id"))))

    async def refresh(self, resource_type: str, resource_id: str, resource: dict[str, Any] | None) -> None:
        """Take a committed change of a Subscription or SubscriptionTopic into account."""
        if resource_type == "SubscriptionTopic":
            url = self._topic_urls.pop(resource_id, None)
            if url is not None:
                self.topics.pop(url, None)
            if resource is not None:
                self._put_topic(resource)
        elif resource_type == "Subscription":
            self.subscriptions.pop(resource_id, None)
            if resource is not None:
                self._put_subscription(resource, await self._ledger.state(resource_id))

    def _put_topic(self, resource: dict[str, Any]) -> None:
        try:
            topic = parse_topic(resource)
        except FhirError as error:  # written before a rule tightened: it simply never fires
            logger.warning("SubscriptionTopic/%s is not usable: %s", resource.get("id"), error.diagnostics)
            return
        if topic.status in ("active", "draft"):
            self.topics[topic.url] = topic
            self._topic_urls[str(resource.get("id"))] = topic.url

    def _put_subscription(self, resource: dict[str, Any], state: SubscriptionState | None) -> None:
        if resource.get("status") not in MATCHING_STATUSES:
            return
        if state is None or not state.owner:
            logger.warning("Subscription/%s has no recorded creator: it is not matched", resource.get("id"))
            return
        try:
            spec = parse_subscription(resource)
        except FhirError as error:
            logger.warning("Subscription/%s is not usable: %s", resource.get("id"), error.diagnostics)
            return
        self.subscriptions[spec.id] = Active(spec, Creator.from_document(state.owner))

    def topic(self, url: str | None) -> Topic | None:
        if url is None:
            return None
        return self.topics.get(url) or self.topics.get(url.split("|", 1)[0])

    def interested_types(self) -> set[str]:
        """Resource types some subscription may want to hear about."""
        types: set[str] = set()
        for active in self.subscriptions.values():
            if active.spec.kind is Kind.CRITERIA and active.spec.resource_type:
                types.add(active.spec.resource_type)
            elif (topic := self.topic(active.spec.topic)) is not None:
                types |= {t.resource_type for t in topic.resource_triggers}
        return types

    def for_event(self, system: str, code: str) -> Iterable[tuple[Active, Topic]]:
        """Topic subscriptions whose topic raises this server event."""
        for active in self.subscriptions.values():
            topic = self.topic(active.spec.topic)
            if topic is not None and topic.raises(system, code):
                yield active, topic
