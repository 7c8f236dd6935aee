"""Subscriptions that deliver: R4 criteria subscriptions and topic-based subscriptions (Subscriptions
R5 Backport IG on R4B), matched on every committed write from the database's change stream and
delivered over rest-hook with retries, leases and event numbers.

``install_subscriptions(services)`` adds the write rules (every app and command); the app's
lifespan starts a ``SubscriptionRuntime`` (watcher, deliverer, reminder trigger).
"""

from fhir_server.subscriptions.install import install_subscriptions

__all__ = ["install_subscriptions"]
