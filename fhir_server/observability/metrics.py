"""Prometheus metrics, one registry per app instance.

Several apps in one process (tests) each get their own ``CollectorRegistry``, so their metric
names never collide.

With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory
before the server starts (``prepare_multiprocess_dir`` empties it): every worker then writes its
values there and ``/metrics`` answers with the sum over workers. Without it each worker reports only
its own requests, which is wrong behind one scrape address. Process metrics (memory, CPU, GC) are
only exported in single-process mode, a limitation of prometheus-client's multiprocess mode.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from pymongo import monitoring

from fhir_server.observability.labels import BoundedLabel

METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

HTTP_LABELS: Final = ("route", "interaction", "resource_type", "status_class")
_HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_COMMAND_SHAPE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_DB_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


@dataclass(frozen=True)
class AppMetrics:
    """The metrics of one app instance and the registry they live in."""

    registry: CollectorRegistry
    requests: Counter
    request_duration: Histogram
    in_flight: Gauge
    db_command_duration: Histogram

    def exposition(self) -> bytes:
        """The text ``/metrics`` serves: this app's registry, or every worker's in multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(combined)


def create_app_metrics() -> AppMetrics:
    registry = CollectorRegistry()
    if multiprocess_dir() is None:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return AppMetrics(
        registry=registry,
        requests=Counter(
            "fhir_http_requests",
            "HTTP requests answered, by route template, FHIR interaction, resource type and status class.",
            HTTP_LABELS,
            registry=registry,
        ),
        request_duration=Histogram(
            "fhir_http_request_duration_seconds",
            "Time from receiving a request to the end of its response body.",
            HTTP_LABELS,
            buckets=_HTTP_BUCKETS,
            registry=registry,
        ),
        in_flight=Gauge(
            "fhir_http_requests_in_flight",
            "Requests being handled now.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        db_command_duration=Histogram(
            "fhir_db_command_duration_seconds",
            "MongoDB command round trips, by command name and outcome.",
            ("command", "outcome"),
            buckets=_DB_BUCKETS,
            registry=registry,
        ),
    )


def prepare_multiprocess_dir() -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` (when set) before workers start: stale files would count."""
    directory = multiprocess_dir()
    if directory is None:
        return
    path = Path(directory)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


class DbCommandMetrics(monitoring.CommandListener):
    """A pymongo command listener timing every command (``event_listeners=[...]`` on the client).

    pymongo measures the round trip itself (``duration_micros``); nothing is kept between events,
    so one listener serves any number of concurrent commands.
    """

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        # Command names come from the driver, but a bound costs nothing and protects the series count.
        self._command = BoundedLabel(shape=_COMMAND_SHAPE, limit=64)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event.command_name, "succeeded", event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event.command_name, "failed", event.duration_micros)

    def _observe(self, command: str, outcome: str, duration_micros: int) -> None:
        self._histogram.labels(self._command(command), outcome).observe(duration_micros / 1_000_000)
