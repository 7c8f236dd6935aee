"""Observers of the pipeline: told of every call it dispatched and how it ended.

The audit trail is the first observer; whatever else must see every interaction (metrics of
interactions, notifications) hooks in here rather than into one adapter.
"""

from __future__ import annotations

from typing import Protocol

from fhir_server.errors import FhirError
from fhir_server.interactions.call import Call
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.route import Route


class CallObserver(Protocol):
    async def __call__(
        self, call: Call, route: Route, outcome: Outcome | None, error: FhirError | None
    ) -> None:
        """After the handler: ``outcome`` when it succeeded, ``error`` when it refused or failed.
        Inside a transaction (``call.session``) the observer may write in the same session."""
