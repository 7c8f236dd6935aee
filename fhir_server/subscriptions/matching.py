"""Which subscriptions a batch of committed versions (or server events) concerns.

Criteria are decided by the search engine itself: each search a subscription or topic runs is
translated by ``SearchService.criteria_filter`` (the same parser, index fields and access
constraints as a search) and run by the database on the batch's versions, put for the purpose in a
probe collection in their stored shape. So a subscription matches exactly what a search with its
criteria would have found at that version, including chains, ``_has``, modifiers and prefixes.

A subscription sees only what its creator could search: the creator's access constraint is part
of every filter run for it, the creator must hold a search permission on the type, and the focus
must pass the gate's visibility check as a search result would. Creators who lost access
(``CreatorAuthority``) get nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir_server.context import Interaction
from fhir_server.errors import FhirError
from fhir_server.services import Services
from fhir_server.store.change_feed import ChangeFeed, Probe
from fhir_server.store.subscription_ledger import EventDraft
from fhir_server.subscriptions.model import Kind
from fhir_server.subscriptions.owner import CreatorAuthority
from fhir_server.subscriptions.registry import Active, SubscriptionRegistry
from fhir_server.subscriptions.topics import ResourceTrigger, Topic

logger = logging.getLogger(__name__)

Document = dict[str, Any]
Params = tuple[tuple[str, str], ...]
EVENT = "event"
_METHOD = {"create": "POST", "update": "PUT", "delete": "DELETE", EVENT: "EVENT"}


@dataclass(frozen=True)
class Candidate:
    """One version to match: a committed write (create, update, delete) or a server event."""

    resource_type: str
    resource_id: str
    version: int
    interaction: str  # create, update, delete, event
    at: datetime
    current: Document | None = None  # stored shape of the new version (None for a delete)
    previous: Document | None = None  # stored shape of the version before, when needed and known
    event: tuple[str, str] | None = None  # (system, code) of a server event

    @property
    def focus(self) -> str:
        return f"{self.resource_type}/{self.resource_id}/_history/{self.version}"

    @property
    def focus_document(self) -> Document | None:
        """What filters and access apply to: the new version, or the one a delete removed."""
        return self.current if self.current is not None else self.previous


def _resource(document: Document | None) -> dict[str, Any] | None:
    if document is None:
        return None
    value = document.get("res")
    return value if isinstance(value, dict) else None


@dataclass
class _Slot:
    """Where one document sits in the probes: a round (one document per id and type per round)."""

    round: int
    resource_type: str
    resource_id: str


@dataclass
class _Probes:
    feed: ChangeFeed
    slots: dict[int, _Slot] = field(default_factory=dict)  # id(document) -> slot
    rounds: list[dict[str, list[Document]]] = field(default_factory=list)
    loaded: dict[tuple[int, str], Probe] = field(default_factory=dict)

    def place(self, resource_type: str, document: Document) -> None:
        resource_id = str(document["_id"])
        for index, by_type in enumerate(self.rounds):
            if all(str(d["_id"]) != resource_id for d in by_type.get(resource_type, [])):
                by_type.setdefault(resource_type, []).append(document)
                self.slots[id(document)] = _Slot(index, resource_type, resource_id)
                return
        self.rounds.append({resource_type: [document]})
        self.slots[id(document)] = _Slot(len(self.rounds) - 1, resource_type, resource_id)

    async def probe(self, slot: _Slot) -> Probe:
        key = (slot.round, slot.resource_type)
        if key not in self.loaded:
            documents = self.rounds[slot.round][slot.resource_type]
            self.loaded[key] = await self.feed.probe(slot.resource_type, slot.round, documents)
        return self.loaded[key]

    async def clear(self) -> None:
        for probe in self.loaded.values():
            await probe.clear()


FilterFn = Callable[[], Awaitable[dict[str, Any] | None]]


class Matcher:
    def __init__(self, *, services: Services, feed: ChangeFeed, authority: CreatorAuthority) -> None:
        self.services = services
        self.feed = feed
        self.authority = authority
        self.base_url = services.settings.base_url.rstrip("/")

    async def match(self, candidates: Sequence[Candidate], registry: SubscriptionRegistry) -> Matches:
        """Events per subscription id, in the candidates' order."""
        matches = Matches()
        if not candidates or not registry.subscriptions:
            return matches
        interested = registry.interested_types()
        relevant = [c for c in candidates if c.event is not None or c.resource_type in interested]
        run = _Run(self, registry, relevant)
        try:
            for candidate in relevant:
                for active, topic_url in await run.subscribers(candidate):
                    method = _METHOD[candidate.interaction]
                    matches.events.setdefault(active.id, []).append(
                        EventDraft(at=candidate.at, focus=candidate.focus, method=method, topic=topic_url)
                    )
        finally:
            await run.probes.clear()
        matches.unauthorized = {sid for sid, allowed in run.authorized.items() if not allowed}
        return matches


@dataclass
class Matches:
    events: dict[str, list[EventDraft]] = field(default_factory=dict)
    unauthorized: set[str] = field(default_factory=set)  # creators who lost access: turn these off

    def add(self, more: Matches) -> None:
        for subscription_id, drafts in more.events.items():
            self.events.setdefault(subscription_id, []).extend(drafts)
        self.unauthorized |= more.unauthorized


class _Run:
    """One batch: probes loaded once, each filter built and run once per probe round."""

    def __init__(
        self, matcher: Matcher, registry: SubscriptionRegistry, candidates: Sequence[Candidate]
    ) -> None:
        self.m = matcher
        self.registry = registry
        self.probes = _Probes(matcher.feed)
        # Every document is placed before any probe is loaded: a loaded probe round is final.
        for candidate in candidates:
            for document in (candidate.current, candidate.previous):
                if document is not None:
                    self.probes.place(candidate.resource_type, document)
        self._filters: dict[tuple[Any, ...], dict[str, Any] | None] = {}
        self._results: dict[tuple[tuple[Any, ...], int, str], set[str]] = {}
        self.authorized: dict[str, bool] = {}

    async def subscribers(self, candidate: Candidate) -> list[tuple[Active, str | None]]:
        found: list[tuple[Active, str | None]] = []
        for active in list(self.registry.subscriptions.values()):
            spec = active.spec
            if spec.kind is Kind.CRITERIA:
                if await self._criteria_match(active, candidate):
                    found.append((active, None))
                continue
            topic = self.registry.topic(spec.topic)
            if topic is not None and await self._topic_match(active, topic, candidate):
                found.append((active, topic.url))
        return found

    # ----- the two forms -------------------------------------------------------------------------

    async def _criteria_match(self, active: Active, candidate: Candidate) -> bool:
        spec = active.spec
        # R4: created or updated resources that match afterwards; deletions are not notified.
        if spec.resource_type != candidate.resource_type or candidate.interaction not in ("create", "update"):
            return False
        return await self._visible_match(active, candidate, spec.params)

    async def _topic_match(self, active: Active, topic: Topic, candidate: Candidate) -> bool:
        if candidate.event is not None:
            if not topic.raises(*candidate.event):
                return False
        elif not any(
            [await self._fires(trigger, candidate) for trigger in topic.triggers_for(candidate.resource_type)]
        ):
            return False
        return await self._visible_match(
            active, candidate, tuple(active.spec.filters_for(candidate.resource_type))
        )

    async def _fires(self, trigger: ResourceTrigger, candidate: Candidate) -> bool:
        if candidate.interaction not in trigger.interactions:
            return False
        previous_ok: bool | None = None
        if trigger.previous is not None:
            if candidate.previous is None:  # a create (or a re-creation after a delete)
                previous_ok = trigger.result_for_create
            else:
                previous_ok = await self._test(
                    ("topic", trigger.previous),
                    trigger.resource_type,
                    trigger.previous,
                    candidate.previous,
                    None,
                )
        current_ok: bool | None = None
        if trigger.current is not None:
            if candidate.current is None:
                current_ok = trigger.result_for_delete
            else:
                current_ok = await self._test(
                    ("topic", trigger.current),
                    trigger.resource_type,
                    trigger.current,
                    candidate.current,
                    None,
                )
        if not trigger.decide(previous_ok=previous_ok, current_ok=current_ok):
            return False
        return trigger.fhirpath_holds(_resource(candidate.previous), _resource(candidate.current))

    # ----- the creator's view --------------------------------------------------------------------

    async def _visible_match(self, active: Active, candidate: Candidate, params: Params) -> bool:
        document = candidate.focus_document
        resource = _resource(document)
        if document is None or resource is None or not await self._still_authorized(active):
            return False
        gate = self.m.services.gate
        ctx = active.creator.context(self.m.base_url)
        try:
            gate.require(ctx, Interaction.SEARCH_TYPE, candidate.resource_type)
        except FhirError:
            return False
        if not gate.can_see(ctx, resource):
            return False
        key = ("subscription", active.id, params)
        return await self._test(key, candidate.resource_type, params, document, active)

    async def _still_authorized(self, active: Active) -> bool:
        known = self.authorized.get(active.id)
        if known is None:
            known = await self.m.authority.is_still_authorized(active.creator)
            self.authorized[active.id] = known
        return known

    # ----- running filters on the probes ---------------------------------------------------------

    async def _test(
        self,
        key: tuple[Any, ...],
        resource_type: str,
        params: Params,
        document: Document,
        owner: Active | None,
    ) -> bool:
        query = await self._filter(key, resource_type, params, owner)
        if query is None:
            return False
        slot = self.probes.slots[id(document)]
        result_key = (key, slot.round, resource_type)
        if result_key not in self._results:
            probe = await self.probes.probe(slot)
            self._results[result_key] = await probe.matching(query)
        return slot.resource_id in self._results[result_key]

    async def _filter(
        self, key: tuple[Any, ...], resource_type: str, params: Params, owner: Active | None
    ) -> dict[str, Any] | None:
        full_key = (*key, resource_type)
        if full_key not in self._filters:
            ctx = owner.creator.context(self.m.base_url) if owner is not None else None
            try:
                self._filters[full_key] = await self.m.services.search.criteria_filter(
                    resource_type=resource_type,
                    params=list(params),
                    ctx=ctx,
                    gate=self.m.services.gate if ctx is not None else None,
                )
            except FhirError as error:  # forbidden to the creator, or a bound hit: no match
                logger.info("a subscription filter on %s did not run: %s", resource_type, error.code)
                self._filters[full_key] = None
        return self._filters[full_key]
