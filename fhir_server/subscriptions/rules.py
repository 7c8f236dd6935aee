"""What a Subscription or SubscriptionTopic write must satisfy, checked inside the write's transaction.

Every path that writes (REST, bundle entries, import, operations) ends in a repository write, so
this one hook refuses what the server cannot honour (a channel it does not build, an endpoint the
allow-list does not admit, criteria the search engine rejects, a topic it cannot evaluate) with
400/422 before anything is committed, and records whom an accepted Subscription acts for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fhir_server.context import Interaction, Principal, RequestContext
from fhir_server.errors import FhirError, Forbidden, Unprocessable
from fhir_server.services import Services
from fhir_server.store.repository import Change, Session, WriteContext
from fhir_server.store.subscription_ledger import SubscriptionLedger
from fhir_server.subscriptions.endpoints import EndpointPolicy, EndpointRefused
from fhir_server.subscriptions.model import Kind, SubscriptionSpec, parse_subscription
from fhir_server.subscriptions.owner import Creator
from fhir_server.subscriptions.topics import Topic, parse_topic, topic_searches

# Marks the server's own writes of a Subscription (status changes) in the request context.
MACHINERY: Final = "fhir_server.subscriptions"


def machinery_context(base_url: str) -> RequestContext:
    """The context of a write the subscription machinery makes (as the server)."""
    return RequestContext(
        principal=Principal.system(), base_url=base_url, request_id="subscriptions", scratch={MACHINERY: True}
    )


def is_machinery(ctx: RequestContext) -> bool:
    return bool(ctx.scratch.get(MACHINERY))


async def requested_status(ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
    """Write transform: the server decides a Subscription's status. A client asks for ``off`` or
    for activation (any other status is stored as ``requested`` until the handshake succeeds)."""
    if resource.get("resourceType") != "Subscription" or is_machinery(ctx):
        return resource
    normalised = dict(resource)
    if normalised.get("status") != "off":
        normalised["status"] = "requested"
    normalised.pop("error", None)
    return normalised


async def find_topic(services: Services, url: str, session: Session | None = None) -> dict[str, Any] | None:
    """The SubscriptionTopic with this canonical URL (``url|version`` accepted), if stored."""
    ids = await services.search.find_ids(
        resource_type="SubscriptionTopic", params=[("url", url.split("|", 1)[0])], limit=1, session=session
    )
    if not ids:
        return None
    stored = await services.repository.current(
        resource_type="SubscriptionTopic", resource_id=ids[0], session=session
    )
    return stored.resource if stored is not None else None


class SubscriptionRules:
    """The repository hook for Subscription and SubscriptionTopic writes."""

    def __init__(self, services: Services, policy: EndpointPolicy) -> None:
        self.services = services
        self.policy = policy
        self.settings = services.settings
        self.ledger = SubscriptionLedger(services.repository.db)

    async def __call__(self, wctx: WriteContext, change: Change) -> None:
        if change.resource_type == "SubscriptionTopic" and change.current is not None:
            self._check_topic(parse_topic(change.current))
        if change.resource_type != "Subscription" or is_machinery(wctx.ctx):
            return
        if change.current is None:
            await self.ledger.forget(subscription_id=change.resource_id, session=wctx.session)
            return
        spec = parse_subscription(change.current)
        self._check_channel(spec)
        # A consequence acts for the caller that caused it; otherwise the writer is the creator.
        writer = wctx.cause or wctx.ctx
        if spec.kind is Kind.CRITERIA:
            self._check_criteria(writer, spec)
        else:
            await self._check_topic_subscription(writer, spec, wctx.session)
        activate = spec.status != "off"
        await self.ledger.record_write(
            subscription_id=change.resource_id,
            owner=Creator.of(writer.principal, at=datetime.now(UTC)).to_document(),
            activate=activate,
            status="requested" if activate else "off",
            session=wctx.session,
        )
        await self.ledger.open_counter(subscription_id=change.resource_id, session=wctx.session)

    # ----- checks ----------------------------------------------------------------------------------

    def _check_channel(self, spec: SubscriptionSpec) -> None:
        try:
            self.policy.check(spec.endpoint)
        except EndpointRefused as refused:
            raise Unprocessable(str(refused), ("Subscription.channel.endpoint",)) from None
        minimum = self.settings.subscription_min_heartbeat_seconds
        if spec.heartbeat_seconds is not None and spec.heartbeat_seconds < minimum:
            raise Unprocessable(
                f"the heartbeat period must be at least {minimum} seconds", ("Subscription.channel",)
            )
        if (
            spec.timeout_seconds is not None
            and spec.timeout_seconds > self.settings.subscription_max_timeout_seconds
        ):
            raise Unprocessable(
                f"the timeout may be at most {self.settings.subscription_max_timeout_seconds:g} seconds",
                ("Subscription.channel",),
            )

    def _check_searchable(self, writer: RequestContext, resource_type: str, where: str) -> None:
        try:
            self.services.gate.require(writer, Interaction.SEARCH_TYPE, resource_type)
        except Forbidden:
            raise Forbidden(
                "a subscription sees what its creator may search, "
                f"and this token may not search {resource_type}",
                (where,),
            ) from None

    def _check_search(self, resource_type: str, params: list[tuple[str, str]], where: str) -> None:
        """The search engine's verdict on a search, reported against the element that holds it."""
        try:
            self.services.search.check_criteria(resource_type=resource_type, params=params)
        except FhirError as error:
            raise type(error)(error.diagnostics, (where,)) from None

    def _check_criteria(self, writer: RequestContext, spec: SubscriptionSpec) -> None:
        assert spec.resource_type is not None
        self._check_search(spec.resource_type, list(spec.params), "Subscription.criteria")
        self._check_searchable(writer, spec.resource_type, "Subscription.criteria")

    async def _check_topic_subscription(
        self, writer: RequestContext, spec: SubscriptionSpec, session: Session
    ) -> None:
        assert spec.topic is not None
        stored = await find_topic(self.services, spec.topic, session)
        if stored is None:
            raise Unprocessable(
                f"no SubscriptionTopic has the URL '{spec.topic}'", ("Subscription.criteria",)
            )
        topic = parse_topic(stored)
        where = "Subscription.criteria.extension"
        for flt in spec.filters:
            if flt.resource_type not in topic.types():
                raise Unprocessable(f"the topic has no trigger on {flt.resource_type}", (where,))
            allowed = topic.filter_params.get(flt.resource_type)
            for name, _ in flt.params:
                if allowed is not None and name.split(":", 1)[0] not in allowed:
                    raise Unprocessable(
                        f"the topic does not allow filtering {flt.resource_type} by '{name}'", (where,)
                    )
            self._check_search(flt.resource_type, list(flt.params), where)
        # Events on types the creator may not search are never sent; at least one must be possible.
        refusals: list[Forbidden] = []
        for resource_type in sorted(topic.types()):
            try:
                self._check_searchable(writer, resource_type, "Subscription.criteria")
            except Forbidden as refused:
                refusals.append(refused)
        if len(refusals) == len(topic.types()):
            raise refusals[0]

    def _check_topic(self, topic: Topic) -> None:
        for resource_type, params, where in topic_searches(topic):
            self._check_search(resource_type, list(params), where)
