"""Wiring the scheduling rules into the services: one repository hook."""

from __future__ import annotations

from fhir_server.scheduling.hook import BookingRules
from fhir_server.services import Services


def install_scheduling(services: Services) -> None:
    """Add the booking hook to the repository."""
    services.repository.hooks.append(BookingRules(services))
