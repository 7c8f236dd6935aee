"""Wiring the subscription rules into the services: a write transform and a repository hook."""

from __future__ import annotations

from fhir_server.services import Services
from fhir_server.subscriptions.endpoints import EndpointPolicy
from fhir_server.subscriptions.rules import SubscriptionRules, requested_status


def install_subscriptions(services: Services) -> None:
    """Subscriptions are validated and their creator recorded on every write path.

    Raises ``ValueError`` for a malformed ``FHIR_SUBSCRIPTION_ALLOWED_ENDPOINTS``."""
    policy = EndpointPolicy.from_setting(services.settings.subscription_allowed_endpoints)
    services.write_transforms.append(requested_status)
    services.repository.hooks.append(SubscriptionRules(services, policy))
