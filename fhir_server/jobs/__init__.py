"""Durable background jobs: the one place the server runs work outside a request.

Jobs live in MongoDB (``fhir_server.store.jobs``), so any instance can run any job: an instance
takes a job by leasing it and keeps the lease alive with a heartbeat; when an instance dies, its
jobs are taken over by another (or by the restarted one) once their lease lapses, and resume from
their last checkpoint. Each instance runs at most ``FHIR_JOB_MAX_CONCURRENT`` jobs at once (0: it
runs none, e.g. an instance that only serves requests). Finished jobs, and what they produced,
are removed ``FHIR_JOB_RETENTION_SECONDS`` after they finish.

The API (``services.jobs`` is the app's :class:`JobRunner`, started and stopped by its lifespan)::

    async def export(job: JobContext) -> dict | None:       # the work, resumable
        done = job.job.progress.get("done", 0)             # where the last owner got to
        for step in range(done, len(steps)):
            await perform(steps[step])                     # durable effects first ...
            await job.checkpoint({"done": step + 1})       # ... then record them (JobLost: stop)
        return {"files": ...}                              # becomes the job's result

    runner.register(JobKind("bulk-export", run=export, discard=remove_files))
    job = await runner.submit("bulk-export", {"types": ["Patient"]})   # params: plain JSON
    job = await runner.status(job.id)      # Job: state (queued, running, completed, failed,
                                           # cancelled), params, progress, result, error, expires
    await runner.cancel(job.id)            # stops it wherever it runs; it expires now
    await runner.purge(job.id)             # discard an expired/cancelled job at once

A handler may run more than once for one job (after a crash): what it did after its last
checkpoint is done again, so a checkpoint must record exactly what is durable. ``checkpoint``
raises :class:`JobLost` when this instance no longer holds the job (cancelled, or taken over after
a stall): the handler then undoes what it did since its last checkpoint and lets the error
propagate. A ``FhirError`` from the handler fails the job with its message; any other exception
fails it with its type only (messages may quote data). Tests drive a runner with their own clock
(``clock=``) and ``run_once()``.
"""

from fhir_server.jobs.model import Clock, Job, JobContext, JobKind, JobLost, JobState, utc_now
from fhir_server.jobs.runner import JobRunner

__all__ = ["Clock", "Job", "JobContext", "JobKind", "JobLost", "JobRunner", "JobState", "utc_now"]
