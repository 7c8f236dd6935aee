"""Keeping the database up, and saying so when it is not.

* ``EmbeddedSupervisor`` (in ``serve``): when the embedded database process dies, start it again
  on the same port and data directory, with a growing pause between failed attempts. The pymongo
  clients of the workers reconnect by themselves, as they would to a restarted mongod.
* ``DatabaseAvailability`` (in every client): a pymongo topology listener that logs when the
  database becomes unreachable and when it is back. pymongo's monitor checks the server every
  ``HEARTBEAT_SECONDS``, and at once after a failed operation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from pymongo.monitoring import TopologyDescriptionChangedEvent, TopologyListener

from fhir_server.store.embedded import EmbeddedDatabase, EmbeddedDatabaseError

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 1.0
_WATCH_SECONDS: Final = 0.2
_FIRST_PAUSE: Final = 0.5
_LONGEST_PAUSE: Final = 30.0
_HEALTHY_AFTER: Final = 60.0  # up this long: the next crash starts again from the shortest pause


class EmbeddedSupervisor:
    """Restarts the embedded database whenever its process exits, until ``stop``."""

    def __init__(
        self, database: EmbeddedDatabase, *, on_restart: Callable[[EmbeddedDatabase], None] | None = None
    ) -> None:
        self.database = database
        self.on_restart = on_restart or (lambda database: None)
        self.restarts = 0
        self._stopping = threading.Event()
        # The thread starts the replacement processes, and a process started on Linux gets SIGTERM
        # when the thread that started it ends: the thread lives until ``stop``.
        self._thread = threading.Thread(target=self._watch, name="embedded-db-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (call before stopping the database, or the supervisor restarts it)."""
        self._stopping.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        pause = _FIRST_PAUSE
        up_since = time.monotonic()
        while not self._stopping.is_set():
            code = self.database.wait(timeout=_WATCH_SECONDS)
            if code is None or self._stopping.is_set():
                continue
            if time.monotonic() - up_since > _HEALTHY_AFTER:
                pause = _FIRST_PAUSE
            logger.error("the embedded database exited (code %d); restarting it in %.1f s", code, pause)
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, _LONGEST_PAUSE)
            try:
                self.database.start()
            except EmbeddedDatabaseError as error:
                logger.error("restarting the embedded database failed: %s", error)
                continue
            self.restarts += 1
            up_since = time.monotonic()
            logger.warning("the embedded database is back (restart %d)", self.restarts)
            self.on_restart(self.database)


class DatabaseAvailability(TopologyListener):
    """Logs the moments the database stops and starts accepting writes; ``available`` for probes."""

    def __init__(self) -> None:
        # Until the first successful check the topology is "unknown", which is not an outage.
        self.available: bool | None = None
        self.changed_at = time.monotonic()
        self.closing = False  # set before the client closes: its last "no server" is no outage

    def opened(self, event: object) -> None:
        pass

    def closed(self, event: object) -> None:
        pass

    def description_changed(self, event: TopologyDescriptionChangedEvent) -> None:
        if self.closing:
            return
        now_available = event.new_description.has_writable_server()
        if now_available == self.available or (self.available is None and not now_available):
            return
        first = self.available is None
        down_for = time.monotonic() - self.changed_at
        self.available, self.changed_at = now_available, time.monotonic()
        if first:
            return
        if now_available:
            logger.warning("the database is reachable again (after %.1f s)", down_for)
        else:
            logger.error("the database is unreachable; requests are answered 503 until it is back")
