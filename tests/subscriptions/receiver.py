"""A real HTTP receiver for notifications: a threaded stdlib server on 127.0.0.1 that records
every request, and can answer errors or stop listening (connection refused) and come back."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fhir_server.store.embedded import free_port

# Generous: deliveries are prompt on a quiet machine, but CI runs several test processes per core.
RECEIVE_TIMEOUT_SECONDS = 90.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def kind(self) -> str | None:
        """The SubscriptionStatus type of a notification Bundle (handshake, heartbeat ...)."""
        if not self.body:
            return None
        bundle = self.json()
        if bundle.get("resourceType") != "Bundle":
            return None
        return str(bundle["entry"][0]["resource"]["type"])

    @property
    def event_numbers(self) -> list[int]:
        if self.kind != "event-notification":
            return []
        status = self.json()["entry"][0]["resource"]
        return [int(event["eventNumber"]) for event in status.get("notificationEvent", [])]


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    status: int = 200
    received: list[Received] = field(default_factory=list)
    refused: int = 0  # requests answered with an error status
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    status = receiver.status
                    if status < 300:
                        receiver.received.append(
                            Received(
                                self.command, self.path, dict(self.headers.items()), body, time.monotonic()
                            )
                        )
                    else:
                        receiver.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: deliveries meet a refused connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of_kind(self, kind: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.kind == kind]

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    async def wait_for(
        self, kind: str | None, count: int, within: float = RECEIVE_TIMEOUT_SECONDS
    ) -> list[Received]:
        """The requests of this kind (any kind: None) once there are ``count`` of them."""
        deadline = time.monotonic() + within
        while True:
            found = self.snapshot() if kind is None else self.of_kind(kind)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} {kind or 'requests'} received, expected {count}")
            await asyncio.sleep(0.05)

    async def events(self, count: int, within: float = RECEIVE_TIMEOUT_SECONDS) -> list[int]:
        """Event numbers received (in arrival order) once ``count`` events arrived."""
        deadline = time.monotonic() + within
        while True:
            numbers = [n for r in self.of_kind("event-notification") for n in r.event_numbers]
            if len(numbers) >= count:
                return numbers
            if time.monotonic() > deadline:
                raise AssertionError(f"events received: {numbers}, expected {count}")
            await asyncio.sleep(0.05)
