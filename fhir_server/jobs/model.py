"""What a job is, what a kind of job provides, and what a running job may ask of its runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from fhir_server.store import jobs as stored

if TYPE_CHECKING:
    from fhir_server.store.jobs import JobDoc

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The runner's default clock (tests inject their own)."""
    return datetime.now(UTC)


class JobState(StrEnum):
    QUEUED = stored.QUEUED
    RUNNING = stored.RUNNING
    COMPLETED = stored.COMPLETED
    FAILED = stored.FAILED
    CANCELLED = stored.CANCELLED
    DISCARDING = stored.DISCARDING

    @property
    def active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class Job:
    """A snapshot of one job as stored."""

    id: str
    kind: str
    state: JobState
    params: dict[str, Any]
    progress: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created: datetime
    attempts: int = 0
    started: datetime | None = None
    finished: datetime | None = None
    expires: datetime | None = None

    @classmethod
    def of(cls, doc: JobDoc) -> Job:
        return cls(
            id=doc["_id"],
            kind=doc["kind"],
            state=JobState(doc["state"]),
            params=doc.get("params") or {},
            progress=doc.get("progress") or {},
            result=doc.get("result"),
            error=doc.get("error"),
            created=doc["created"],
            attempts=doc.get("attempts", 0),
            started=doc.get("started"),
            finished=doc.get("finished"),
            expires=doc.get("expires"),
        )


class JobLost(Exception):
    """The running instance no longer holds the job: it was cancelled, or its lease lapsed and
    another instance took it over. Stop, and undo whatever was not checkpointed."""


class JobContext(Protocol):
    """What a handler sees of its job while it runs."""

    @property
    def job(self) -> Job:
        """The job as it was taken up: ``params``, and ``progress`` from the last checkpoint."""

    def now(self) -> datetime:
        """The runner's clock."""

    async def checkpoint(self, progress: dict[str, Any]) -> None:
        """Store the progress so far durably (a new owner resumes from it); raises ``JobLost``."""


Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]
Discard = Callable[[Job], Awaitable[None]]


async def _nothing_to_discard(job: Job) -> None:
    return None


@dataclass(frozen=True)
class JobKind:
    """A kind of background work.

    ``run`` does the work, resuming from ``job.progress`` (it may be run again after a crash: work
    not covered by a checkpoint is done again, so make each checkpoint cover exactly what is
    durable); its return value becomes the job's ``result``. ``discard`` removes what a job
    produced (files), when it expires or is cancelled; it must be idempotent.
    """

    name: str
    run: Handler
    discard: Discard = _nothing_to_discard
