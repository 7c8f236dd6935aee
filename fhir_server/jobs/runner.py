"""JobRunner: takes queued (or abandoned) jobs from MongoDB and runs them, a bounded number at once.

One round (``run_once``) first discards one expired job, then claims jobs until this instance runs
``max_concurrent`` of them. Each running job has a heartbeat that renews its lease every third of
the lease time; when a renewal finds the job gone (cancelled, or taken over after a stall) the
job's task is cancelled. The background loop runs a round every ``poll_seconds``, and at once when
a job is submitted here or a local job ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fhir_server.errors import FhirError
from fhir_server.jobs.model import Clock, Job, JobKind, JobLost, utc_now
from fhir_server.store.jobs import COMPLETED, FAILED, JobStore

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0  # how long stop() lets a round in flight finish


@dataclass
class _Running:
    """A job this instance runs (the context its handler gets)."""

    job: Job
    runner: JobRunner
    task: asyncio.Task[None] | None = None
    lost: bool = False

    def now(self) -> datetime:
        return self.runner.clock()

    async def checkpoint(self, progress: dict[str, Any]) -> None:
        runner = self.runner
        saved = await runner.store.save_progress(
            job_id=self.job.id, owner=runner.instance, progress=progress, lease_until=runner.lease_end()
        )
        if not saved:
            self.lost = True
            raise JobLost(self.job.id)


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        *,
        max_concurrent: int = 2,
        lease_seconds: float = 60.0,
        poll_seconds: float = 2.0,
        retention_seconds: float = 86400.0,
        max_attempts: int = 5,
        clock: Clock = utc_now,
        instance: str | None = None,
    ) -> None:
        self.store = store
        self.max_concurrent = max_concurrent
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.retention = timedelta(seconds=retention_seconds)
        self.max_attempts = max_attempts
        self.clock = clock
        # Unique per process: a restarted instance never mistakes an old lease for its own.
        self.instance = instance or f"{socket.gethostname()}-{secrets.token_hex(4)}"
        self._kinds: dict[str, JobKind] = {}
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    # ----- the API ---------------------------------------------------------------------------------

    def register(self, kind: JobKind) -> None:
        """Make a kind of job known here: this instance submits and runs jobs of it."""
        self._kinds[kind.name] = kind

    async def submit(self, kind: str, params: dict[str, Any]) -> Job:
        """Queue a job; some instance (this one, when it has a free slot) runs it soon."""
        if kind not in self._kinds:
            raise ValueError(f"no job kind {kind!r} is registered")
        doc = await self.store.insert(
            job_id=secrets.token_hex(16), kind=kind, params=params, now=self.clock()
        )
        self._wake.set()
        return Job.of(doc)

    async def status(self, job_id: str) -> Job | None:
        doc = await self.store.get(job_id)
        return None if doc is None else Job.of(doc)

    async def cancel(self, job_id: str) -> Job | None:
        """Stop a queued or running job (whichever instance runs it) and let any job expire now:
        the next round, here or elsewhere, discards it. None for an unknown job."""
        doc = await self.store.cancel(job_id=job_id, now=self.clock())
        running = self._running.get(job_id)
        if running is not None and running.task is not None:
            running.lost = True
            running.task.cancel()
        return None if doc is None else Job.of(doc)

    async def purge(self, job_id: str) -> bool:
        """Discard an expired (or cancelled) job now: its kind's ``discard``, then its record."""
        doc = await self.store.claim_expired(
            owner=self.instance, now=self.clock(), lease_until=self.lease_end(), job_id=job_id
        )
        if doc is None:
            return False
        await self._discard(Job.of(doc))
        return True

    # ----- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Run rounds in the background until ``stop``."""
        if self._loop is None:
            self._stopping = False
            self._loop = asyncio.create_task(self._run_forever(), name="job-runner")

    async def stop(self) -> None:
        """Stop taking jobs; give running ones back so another instance (or a restart) resumes them."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            # The loop ends at its next check: a round in flight finishes its database calls (a
            # driver call cancelled midway leaves its connection unclosed); cancelled only if stuck.
            try:
                await asyncio.wait_for(asyncio.shield(self._loop), STOP_GRACE_SECONDS)
            except TimeoutError:
                self._loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._loop
            self._loop = None
        tasks = [r.task for r in self._running.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run_once(self) -> int:
        """One round: discard an expired job, then take jobs while a slot is free. Returns how
        many jobs were started."""
        now = self.clock()
        expired = await self.store.claim_expired(owner=self.instance, now=now, lease_until=self.lease_end())
        if expired is not None:
            await self._discard(Job.of(expired))
        started = 0
        while self._kinds and len(self._running) < self.max_concurrent and not self._stopping:
            doc = await self.store.claim(
                kinds=self._kinds, owner=self.instance, now=self.clock(), lease_until=self.lease_end()
            )
            if doc is None:
                break
            job = Job.of(doc)
            if job.attempts > self.max_attempts:
                await self._settle(job, FAILED, error=f"gave up after {self.max_attempts} attempts")
                continue
            running = _Running(job, self)
            self._running[job.id] = running
            running.task = asyncio.create_task(self._run(running), name=f"job-{job.kind}")
            started += 1
        return started

    async def wait_idle(self) -> None:
        """Wait until no job runs here (tests)."""
        while self._running:
            await asyncio.gather(
                *(r.task for r in list(self._running.values()) if r.task is not None), return_exceptions=True
            )

    def lease_end(self) -> datetime:
        return self.clock() + self.lease

    # ----- internals -------------------------------------------------------------------------------

    async def _run_forever(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception as error:  # a database hiccup must not end the loop
                logger.warning("job round failed: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def _run(self, running: _Running) -> None:
        job = running.job
        heartbeat = asyncio.create_task(self._heartbeat(running), name="job-heartbeat")
        try:
            result = await self._kinds[job.kind].run(running)
        except JobLost:
            logger.info("job %s of kind %s was cancelled or taken over", job.id, job.kind)
        except asyncio.CancelledError:
            if not running.lost:  # this instance stops: hand the job over at once
                with contextlib.suppress(Exception):
                    await asyncio.shield(
                        self.store.release(job_id=job.id, owner=self.instance, now=self.clock())
                    )
        except FhirError as error:
            await self._settle(job, FAILED, error=error.diagnostics)
        except Exception as error:
            # The message might quote data; the type is enough to look further in the traceback.
            logger.error("job %s of kind %s failed: %s", job.id, job.kind, type(error).__name__)
            await self._settle(job, FAILED, error=f"internal error ({type(error).__name__})")
        else:
            await self._settle(job, COMPLETED, result=result)
        finally:
            heartbeat.cancel()
            self._running.pop(job.id, None)
            self._wake.set()

    async def _heartbeat(self, running: _Running) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                held = await self.store.renew(
                    job_id=running.job.id, owner=self.instance, lease_until=self.lease_end()
                )
            except Exception as error:  # try again next beat; the lease outlives a few misses
                logger.warning("job heartbeat failed: %s", type(error).__name__)
                continue
            if not held:
                running.lost = True
                if running.task is not None:
                    running.task.cancel()
                return

    async def _settle(
        self, job: Job, state: str, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        now = self.clock()
        await self.store.finish(
            job_id=job.id,
            owner=self.instance,
            state=state,
            now=now,
            expires=now + self.retention,
            result=result,
            error=error,
        )

    async def _discard(self, job: Job) -> None:
        kind = self._kinds.get(job.kind)
        if kind is None:  # another instance knows this kind; its lease on the discard lapses
            return
        try:
            await kind.discard(job)
        except Exception as error:  # the lease lapses and a later round tries again
            logger.warning("discarding job %s failed: %s", job.id, type(error).__name__)
            return
        await self.store.delete(job_id=job.id, owner=self.instance)
