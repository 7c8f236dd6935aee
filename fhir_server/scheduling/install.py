"""Wiring the scheduling rules into the services: one repository hook."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_server.scheduling.availability import Clock
from fhir_server.scheduling.hook import BookingRules
from fhir_server.services import Services


def _now() -> datetime:
    return datetime.now(UTC)


def install_scheduling(services: Services, clock: Clock = _now) -> None:
    """Add the booking hook to the repository."""
    services.repository.hooks.append(BookingRules(services, clock))
