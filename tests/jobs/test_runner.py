"""The job runner against the real database: leases, takeover, fencing, cancellation, expiry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.errors import BadRequest
from fhir_server.jobs import Job, JobContext, JobKind, JobLost, JobRunner, JobState
from fhir_server.store.jobs import JobStore
from fhir_server.store.schema import Schema

LEASE = 3600.0  # real-time heartbeats never fire during a test: the manual clock decides


class ManualClock:
    def __init__(self) -> None:
        self.moment = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest_asyncio.fixture(loop_scope="session")
async def db(mongo_uri: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    name = f"test_jobs_{uuid.uuid4().hex[:10]}"
    database = client[name]
    await Schema(database, lambda _: []).create_shared()
    try:
        yield database
    finally:
        await client.drop_database(name)
        await client.close()


class Steps:
    """A resumable job: ``total`` steps, one checkpoint each; it can be held before a step."""

    def __init__(self, total: int, *, hold_at: int | None = None) -> None:
        self.total = total
        self.hold_at = hold_at
        self.release = asyncio.Event()
        self.held = asyncio.Event()
        self.performed: list[int] = []
        self.lost = 0
        self.discarded: list[str] = []

    async def run(self, job: JobContext) -> dict[str, Any]:
        done = int(job.job.progress.get("done", 0))
        for step in range(done, self.total):
            if step == self.hold_at and not self.release.is_set():
                self.held.set()
                await self.release.wait()
            self.performed.append(step)
            try:
                await job.checkpoint({"done": step + 1})
            except JobLost:
                self.lost += 1
                raise
        return {"steps": self.total}

    async def discard(self, job: Job) -> None:
        self.discarded.append(job.id)

    def kind(self) -> JobKind:
        return JobKind("steps", run=self.run, discard=self.discard)


def runner(db: AsyncDatabase[dict[str, Any]], clock: ManualClock, work: Steps, **options: Any) -> JobRunner:
    settings: dict[str, Any] = {"lease_seconds": LEASE, "retention_seconds": 600, "clock": clock}
    settings.update(options)
    job_runner = JobRunner(JobStore(db), **settings)
    job_runner.register(work.kind())
    return job_runner


async def test_a_job_runs_to_completion_and_expires_with_its_files(db: AsyncDatabase[dict[str, Any]]) -> None:
    clock, work = ManualClock(), Steps(3)
    jobs = runner(db, clock, work)
    job = await jobs.submit("steps", {"what": "three steps"})
    assert job.state is JobState.QUEUED
    assert await jobs.run_once() == 1
    await jobs.wait_idle()
    done = await jobs.status(job.id)
    assert done is not None and done.state is JobState.COMPLETED
    assert (
        done.result == {"steps": 3}
        and done.progress == {"done": 3}
        and done.params == {"what": "three steps"}
    )
    assert done.expires == clock() + timedelta(seconds=600)
    assert work.performed == [0, 1, 2]
    clock.advance(599)
    await jobs.run_once()
    assert work.discarded == [] and await jobs.status(job.id) is not None
    clock.advance(2)
    await jobs.run_once()
    assert work.discarded == [job.id]
    assert await jobs.status(job.id) is None


async def test_a_dead_instances_job_is_taken_over_after_its_lease_and_resumes(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    clock, first_work = ManualClock(), Steps(5, hold_at=2)
    first = runner(db, clock, first_work)
    job = await first.submit("steps", {})
    await first.run_once()
    await asyncio.wait_for(first_work.held.wait(), 10)  # two steps checkpointed, then it stalls

    second_work = Steps(5)
    second = runner(db, clock, second_work)
    assert await second.run_once() == 0  # the lease still holds
    clock.advance(LEASE + 1)
    assert await second.run_once() == 1
    await second.wait_idle()
    assert second_work.performed == [2, 3, 4]  # resumed after the last checkpoint
    finished = await second.status(job.id)
    assert finished is not None and finished.state is JobState.COMPLETED and finished.attempts == 2

    first_work.release.set()  # the stalled owner wakes up: its next checkpoint is refused
    await first.wait_idle()
    assert first_work.lost == 1
    after = await second.status(job.id)
    assert after is not None and after.progress == {"done": 5} and after.state is JobState.COMPLETED


async def test_concurrency_is_bounded_per_instance(db: AsyncDatabase[dict[str, Any]]) -> None:
    clock, work = ManualClock(), Steps(1, hold_at=0)
    jobs = runner(db, clock, work, max_concurrent=1)
    one = await jobs.submit("steps", {})
    two = await jobs.submit("steps", {})
    assert await jobs.run_once() == 1
    assert await jobs.run_once() == 0
    states = {job.id: (await jobs.status(job.id)) for job in (one, two)}
    assert sorted(s.state for s in states.values() if s is not None) == [JobState.QUEUED, JobState.RUNNING]
    work.release.set()
    await jobs.wait_idle()
    assert await jobs.run_once() == 1
    await jobs.wait_idle()
    for job in (one, two):
        finished = await jobs.status(job.id)
        assert finished is not None and finished.state is JobState.COMPLETED
    idle = runner(db, clock, Steps(1), max_concurrent=0)
    await idle.submit("steps", {})
    assert await idle.run_once() == 0  # an instance that runs no jobs


async def test_cancel_stops_a_running_job_and_purge_discards_it(db: AsyncDatabase[dict[str, Any]]) -> None:
    clock, work = ManualClock(), Steps(3, hold_at=1)
    jobs = runner(db, clock, work)
    job = await jobs.submit("steps", {})
    await jobs.run_once()
    await asyncio.wait_for(work.held.wait(), 10)
    cancelled = await jobs.cancel(job.id)
    assert cancelled is not None and cancelled.state is JobState.CANCELLED
    await jobs.wait_idle()
    assert work.performed == [0]  # nothing after the cancellation
    assert await jobs.purge(job.id)
    assert work.discarded == [job.id]
    assert await jobs.status(job.id) is None
    assert await jobs.cancel(job.id) is None
    assert not await jobs.purge(job.id)


async def test_a_cancelled_job_on_another_instance_stops_at_its_next_checkpoint(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    clock, work = ManualClock(), Steps(3, hold_at=1)
    owner = runner(db, clock, work)
    job = await owner.submit("steps", {})
    await owner.run_once()
    await asyncio.wait_for(work.held.wait(), 10)
    other = runner(db, clock, Steps(3))
    await other.cancel(job.id)  # a request served by another instance
    work.release.set()
    await owner.wait_idle()
    assert work.lost == 1 and work.performed == [0, 1]
    await other.run_once()  # cancelled jobs expire at once: any round discards them
    assert await other.status(job.id) is None


async def test_failures_are_recorded_without_the_exception_text(db: AsyncDatabase[dict[str, Any]]) -> None:
    async def refuses(job: JobContext) -> dict[str, Any]:
        raise BadRequest("_typeFilter: the criteria are not valid")

    async def crashes(job: JobContext) -> dict[str, Any]:
        raise ValueError("Patient Jane Doe, born 1970-01-01")

    clock = ManualClock()
    jobs = JobRunner(JobStore(db), lease_seconds=LEASE, clock=clock)
    jobs.register(JobKind("refuses", run=refuses))
    jobs.register(JobKind("crashes", run=crashes))
    refused = await jobs.submit("refuses", {})
    crashed = await jobs.submit("crashes", {})
    await jobs.run_once()
    await jobs.wait_idle()
    first = await jobs.status(refused.id)
    second = await jobs.status(crashed.id)
    assert first is not None and first.state is JobState.FAILED
    assert first.error == "_typeFilter: the criteria are not valid"
    assert second is not None and second.state is JobState.FAILED
    assert second.error == "internal error (ValueError)"


async def test_a_job_that_keeps_dying_is_given_up(db: AsyncDatabase[dict[str, Any]]) -> None:
    clock, work = ManualClock(), Steps(2, hold_at=0)
    jobs = runner(db, clock, work, max_attempts=2)
    job = await jobs.submit("steps", {})
    stalled: list[tuple[JobRunner, Steps]] = []
    for _ in range(2):  # taken up twice, and each time its instance "dies" (the lease lapses)
        other_work = Steps(2, hold_at=0)
        other = runner(db, clock, other_work, max_attempts=2)
        assert await other.run_once() == 1
        stalled.append((other, other_work))
        clock.advance(LEASE + 1)
    assert await jobs.run_once() == 0
    for other, other_work in stalled:  # the stalled owners wake up to a job they no longer hold
        other_work.release.set()
        await other.wait_idle()
        assert other_work.lost == 1
    given_up = await jobs.status(job.id)
    assert given_up is not None and given_up.state is JobState.FAILED
    assert given_up.error == "gave up after 2 attempts"


async def test_stopping_an_instance_hands_its_jobs_over_at_once(db: AsyncDatabase[dict[str, Any]]) -> None:
    clock, work = ManualClock(), Steps(3, hold_at=1)
    first = runner(db, clock, work)
    job = await first.submit("steps", {})
    await first.run_once()
    await asyncio.wait_for(work.held.wait(), 10)
    await first.stop()
    second_work = Steps(3)
    second = runner(db, clock, second_work)
    assert await second.run_once() == 1  # no need to wait for the lease
    await second.wait_idle()
    assert second_work.performed == [1, 2]
    finished = await second.status(job.id)
    assert finished is not None and finished.state is JobState.COMPLETED


async def test_the_background_loop_runs_submitted_jobs(db: AsyncDatabase[dict[str, Any]]) -> None:
    work = Steps(2)
    jobs = JobRunner(JobStore(db), lease_seconds=LEASE, poll_seconds=30)
    jobs.register(work.kind())
    await jobs.start()
    try:
        job = await jobs.submit("steps", {})
        for _ in range(200):
            current = await jobs.status(job.id)
            if current is not None and current.state is JobState.COMPLETED:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the job did not run")
    finally:
        await jobs.stop()
    with pytest.raises(ValueError):
        await jobs.submit("unknown", {})
