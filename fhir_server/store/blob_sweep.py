"""What the blob sweeper (``fhir_server.documents.sweeper``) asks of MongoDB: a lease that lets one
process in a fleet sweep per interval, and every stored version of every Binary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from fhir_server.store import documents as f

# Periodic chores' leases ({_id: chore, until, holder}); apart from the job runner's documents.
LEASES_COLLECTION: Final = "leases"
# What a chore that talks to the database may meet when it is down: skip this round.
DATABASE_ERRORS: Final[tuple[type[Exception], ...]] = (PyMongoError,)


async def take_lease(db: AsyncDatabase[Any], *, chore: str, seconds: float, holder: str) -> bool:
    """Whether we may run ``chore`` now: at most one holder per ``seconds``, across processes."""
    now = datetime.now(UTC)
    try:
        await db[LEASES_COLLECTION].update_one(
            {"_id": chore, "until": {"$lt": now}},
            {"$set": {"until": now + timedelta(seconds=seconds), "holder": holder}},
            upsert=True,
        )
    except DuplicateKeyError:  # the document exists and its lease has not run out
        return False
    return True


async def binary_versions(db: AsyncDatabase[Any]) -> AsyncIterator[dict[str, Any]]:
    """Every version, current or past (deleted ones too), of every Binary: the resource's JSON."""
    projection = {f"{f.RESOURCE}.meta": 1}
    sources = (
        db[f.resource_collection_name("Binary")].find({}, projection),
        db[f.HISTORY_COLLECTION].find({f.H_TYPE: "Binary"}, projection),
    )
    for cursor in sources:
        async for doc in cursor:
            resource = doc.get(f.RESOURCE)
            if isinstance(resource, dict):
                yield resource
