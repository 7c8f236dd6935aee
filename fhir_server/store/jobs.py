"""JobStore: background jobs in MongoDB, leased by the instance that runs them (``fhir_server.jobs``).

Every state change is one conditional single-document update, so instances never need a lock to
agree: a job is taken by the update that finds it claimable (queued, or its lease lapsed), and an
owner's heartbeat, checkpoint or finish only lands while it still holds the lease and the job is
still running. An owner that lost its lease (it stalled, or the job was cancelled) learns so from
the next of these updates matching nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, TypedDict

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.store import documents as f

QUEUED: Final = "queued"
RUNNING: Final = "running"
COMPLETED: Final = "completed"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
DISCARDING: Final = "discarding"  # its expiry is being carried out (files removed, then the record)

ACTIVE: Final = (QUEUED, RUNNING)
SETTLED: Final = (COMPLETED, FAILED, CANCELLED)


class JobDoc(TypedDict, total=False):
    _id: str
    kind: str
    state: str
    params: dict[str, Any]
    progress: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    owner: str | None
    lease: datetime
    attempts: int
    created: datetime
    started: datetime
    finished: datetime
    expires: datetime


class JobStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._jobs: AsyncCollection[JobDoc] = db[f.JOBS_COLLECTION]

    async def insert(self, *, job_id: str, kind: str, params: dict[str, Any], now: datetime) -> JobDoc:
        doc: JobDoc = {
            "_id": job_id,
            "kind": kind,
            "state": QUEUED,
            "params": params,
            "progress": {},
            "result": None,
            "error": None,
            "owner": None,
            "lease": now,  # claimable at once; the oldest queued job is taken first
            "attempts": 0,
            "created": now,
        }
        await self._jobs.insert_one(doc)
        return doc

    async def get(self, job_id: str) -> JobDoc | None:
        return await self._jobs.find_one({f.ID: job_id})

    async def claim(
        self, *, kinds: Iterable[str], owner: str, now: datetime, lease_until: datetime
    ) -> JobDoc | None:
        """Take the job waiting longest: queued, or running under a lease that lapsed."""
        return await self._jobs.find_one_and_update(
            {f.J_STATE: {"$in": list(ACTIVE)}, f.J_LEASE: {"$lte": now}, f.J_KIND: {"$in": list(kinds)}},
            {
                "$set": {f.J_STATE: RUNNING, f.J_OWNER: owner, f.J_LEASE: lease_until},
                "$min": {f.J_STARTED: now},
                "$inc": {f.J_ATTEMPTS: 1},
            },
            sort=[(f.J_LEASE, ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def renew(self, *, job_id: str, owner: str, lease_until: datetime) -> bool:
        """Extend the owner's lease (the heartbeat); False when the owner lost the job."""
        result = await self._jobs.update_one(self._held(job_id, owner), {"$set": {f.J_LEASE: lease_until}})
        return result.matched_count == 1

    async def save_progress(
        self, *, job_id: str, owner: str, progress: dict[str, Any], lease_until: datetime
    ) -> bool:
        """Record a checkpoint (and renew the lease); False when the owner lost the job."""
        result = await self._jobs.update_one(
            self._held(job_id, owner), {"$set": {f.J_PROGRESS: progress, f.J_LEASE: lease_until}}
        )
        return result.matched_count == 1

    async def finish(
        self,
        *,
        job_id: str,
        owner: str,
        state: str,
        now: datetime,
        expires: datetime,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Settle a running job (completed or failed); False when the owner lost it."""
        outcome = await self._jobs.update_one(
            self._held(job_id, owner),
            {
                "$set": {
                    f.J_STATE: state,
                    f.J_RESULT: result,
                    f.J_ERROR: error,
                    f.J_FINISHED: now,
                    f.J_EXPIRES: expires,
                    f.J_OWNER: None,
                }
            },
        )
        return outcome.matched_count == 1

    async def release(self, *, job_id: str, owner: str, now: datetime) -> None:
        """Give a running job back (the instance shuts down): any instance may take it at once."""
        await self._jobs.update_one(self._held(job_id, owner), {"$set": {f.J_LEASE: now, f.J_OWNER: None}})

    async def cancel(self, *, job_id: str, now: datetime) -> JobDoc | None:
        """Stop a queued or running job and make any job expire now; None for an unknown job or
        one being discarded already."""
        stopped = await self._jobs.find_one_and_update(
            {f.ID: job_id, f.J_STATE: {"$in": list(ACTIVE)}},
            {"$set": {f.J_STATE: CANCELLED, f.J_OWNER: None, f.J_FINISHED: now, f.J_EXPIRES: now}},
            return_document=ReturnDocument.AFTER,
        )
        if stopped is not None:
            return stopped
        return await self._jobs.find_one_and_update(
            {f.ID: job_id, f.J_STATE: {"$in": list(SETTLED)}},
            {"$set": {f.J_EXPIRES: now}},
            return_document=ReturnDocument.AFTER,
        )

    async def claim_expired(
        self, *, owner: str, now: datetime, lease_until: datetime, job_id: str | None = None
    ) -> JobDoc | None:
        """Take an expired job (or one whose discarding stalled) to discard it."""
        query: dict[str, Any] = {
            "$or": [
                {f.J_STATE: {"$in": list(SETTLED)}, f.J_EXPIRES: {"$lte": now}},
                {f.J_STATE: DISCARDING, f.J_LEASE: {"$lte": now}},
            ]
        }
        if job_id is not None:
            query[f.ID] = job_id
        return await self._jobs.find_one_and_update(
            query,
            {"$set": {f.J_STATE: DISCARDING, f.J_OWNER: owner, f.J_LEASE: lease_until}},
            return_document=ReturnDocument.AFTER,
        )

    async def delete(self, *, job_id: str, owner: str) -> None:
        await self._jobs.delete_one({f.ID: job_id, f.J_STATE: DISCARDING, f.J_OWNER: owner})

    @staticmethod
    def _held(job_id: str, owner: str) -> dict[str, Any]:
        return {f.ID: job_id, f.J_STATE: RUNNING, f.J_OWNER: owner}
