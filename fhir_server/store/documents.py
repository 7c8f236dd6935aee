"""Shapes of what we keep in MongoDB; every stored field name is declared once here.

Current resources live in one collection per resource type (``resources.Patient`` ...), so each
type carries its own search indexes (MongoDB allows 64 per collection). Every version, the current
one included, is also kept in the ``history`` collection, so vread and ``_history`` read one place.
"""

from __future__ import annotations

from typing import Final

# Current-resource documents (collection per type).
ID: Final = "_id"  # logical id
VERSION: Final = "v"  # int version, 1-based
LAST_UPDATED: Final = "lu"  # datetime (UTC, ms precision)
DELETED: Final = "del"  # True for a tombstone: read answers 410
RESOURCE: Final = "res"  # the FHIR JSON as stored (with id and meta)
INDEX: Final = "ix"  # search index entries extracted by fhir_server.search on each write
REFERENCES: Final = "refs"  # ["Patient/1", ...]: local resources this one references
COMPARTMENTS: Final = "comp"  # ["Patient/1", "Encounter/7", ...]: compartments the resource belongs to

# History documents (one collection for all types).
HISTORY_COLLECTION: Final = "history"
H_TYPE: Final = "t"
H_ID: Final = "id"
H_METHOD: Final = "m"  # POST, PUT, PATCH or DELETE

# Claim documents: a write in the same transaction makes racing conditional writes conflict.
CLAIMS_COLLECTION: Final = "claims"


def resource_collection_name(resource_type: str) -> str:
    return f"resources.{resource_type}"


def history_id(resource_type: str, resource_id: str, version: int) -> str:
    return f"{resource_type}/{resource_id}/{version}"


# The booking ledger: one document per (time-holding appointment, exclusive actor), kept by the
# scheduling rules in the appointment's own transaction (fhir_server.store.ledgers).
BOOKINGS_COLLECTION: Final = "appointment_bookings"
B_APPOINTMENT: Final = "a"  # appointment id
B_ACTOR: Final = "actor"  # "Practitioner/1", "Patient/2", "Location/3" ...
B_START: Final = "s"  # datetime, UTC, inclusive
B_END: Final = "e"  # datetime, UTC, exclusive

# The Binary ledger: which resources ever pointed at which Binary (fhir_server.store.ledgers).
BINARY_REFS_COLLECTION: Final = "binary_refs"
BR_BINARY: Final = "b"  # the Binary's id
BR_REFERRER: Final = "r"  # "DocumentReference/7": the resource pointing at it

# Background jobs (fhir_server.jobs): one document per job, leased by the instance running it.
JOBS_COLLECTION: Final = "jobs"
J_KIND: Final = "kind"  # what kind of work ("bulk-export" ...): picks the handler
J_STATE: Final = "state"  # queued, running, completed, failed, cancelled, discarding
J_PARAMS: Final = "params"  # the kind's input, set at submission
J_PROGRESS: Final = "progress"  # the kind's last checkpoint: where a new owner resumes
J_RESULT: Final = "result"  # the kind's output once completed
J_ERROR: Final = "error"  # why it failed (no PHI: our own messages only)
J_OWNER: Final = "owner"  # the instance holding the lease
J_LEASE: Final = "lease"  # datetime: the owner holds the job until then (queued: when it was queued)
J_ATTEMPTS: Final = "attempts"  # how often an instance took the job up
J_CREATED: Final = "created"
J_STARTED: Final = "started"
J_FINISHED: Final = "finished"
J_EXPIRES: Final = "expires"  # datetime: after it, the job and what it produced are removed
