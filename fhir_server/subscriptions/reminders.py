"""The appointment reminder: a time-based trigger, raised a set time before a booked appointment starts.

Run by the change-stream watcher (the one process holding its lease) every
``subscription_reminder_interval_seconds``: the booked appointments whose start, minus
``subscription_reminder_lead_seconds``, fell in the window since the last run (the stored
watermark) up to now are matched against the subscriptions of topics raising the
``appointment-reminder`` event, and their events are queued in the transaction that moves the
watermark, so each appointment start is reminded once. The first run starts the watermark at now;
an appointment booked (or moved) to start sooner than the lead time is not reminded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Final

from fhir_server.errors import BadRequest
from fhir_server.fhirdates import parse_instant
from fhir_server.services import Services
from fhir_server.store.repository import instant
from fhir_server.subscriptions.matching import EVENT, Candidate
from fhir_server.subscriptions.registry import SubscriptionRegistry
from fhir_server.subscriptions.topics import APPOINTMENT_REMINDER, CLINIC_EVENTS

logger = logging.getLogger(__name__)

MAX_PER_RUN: Final = 10_000


class AppointmentReminders:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.lead = timedelta(seconds=services.settings.subscription_reminder_lead_seconds)
        self.interval = timedelta(seconds=services.settings.subscription_reminder_interval_seconds)

    @staticmethod
    def wanted(registry: SubscriptionRegistry) -> bool:
        return any(True for _ in registry.for_event(CLINIC_EVENTS, APPOINTMENT_REMINDER))

    async def candidates(self, since: datetime, now: datetime) -> list[Candidate]:
        """Booked appointments whose reminder time falls in (since, now]."""
        low, high = since + self.lead, now + self.lead
        # The search narrows by the date index; the exact window is decided here, so an appointment
        # on a run's boundary falls in exactly one window.
        params = [("date", f"ge{instant(low)}"), ("date", f"le{instant(high)}"), ("status", "booked")]
        found: list[Candidate] = []
        async for resource in self.services.search.matching(
            resource_type="Appointment", params=params, limit=MAX_PER_RUN
        ):
            start = _start(resource)
            if start is None or not low < start <= high:
                continue
            version = int((resource.get("meta") or {}).get("versionId") or 1)
            found.append(
                Candidate(
                    resource_type="Appointment",
                    resource_id=str(resource["id"]),
                    version=version,
                    interaction=EVENT,
                    at=now,
                    current=self.services.repository.document_of(resource, version, now),
                    event=(CLINIC_EVENTS, APPOINTMENT_REMINDER),
                )
            )
        if len(found) >= MAX_PER_RUN:
            logger.warning("more than %d appointment reminders in one run; shorten the interval", MAX_PER_RUN)
        return found


def _start(resource: dict[str, Any]) -> datetime | None:
    value = resource.get("start")
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value, name="Appointment.start")
    except BadRequest:
        return None
