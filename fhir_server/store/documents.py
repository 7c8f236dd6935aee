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

# Subscriptions (fhir_server.store.subscription_ledger, .change_feed): one state document per
# Subscription (its delivery, leased), its event counter, its numbered notification events, and the
# change-stream watcher's cursor.
SUBSCRIPTION_STATE_COLLECTION: Final = "subscription_state"
SS_OWNER: Final = "owner"  # who the subscription acts for (its creator's authorization, as granted)
SS_GENERATION: Final = "gen"  # bumped by every client write of the Subscription
SS_STATUS: Final = "status"  # requested | active | error | off: what the server last decided
SS_ACTIVATE: Final = "activate"  # True: a client write asks for (re)activation (handshake)
SS_DELIVERED: Final = "delivered"  # last event number delivered (or skipped: dropped from a full queue)
SS_FAILURES: Final = "failures"  # consecutive failed deliveries
SS_RETRY_AT: Final = "retry_at"  # datetime: no attempt before (backoff)
SS_LAST_SENT: Final = "last_sent"  # datetime of the last successful delivery (heartbeats count)
SS_ERROR: Final = "error"  # why the last attempt failed (no secrets: status code or error kind)
SS_DUE: Final = "due"  # datetime: when a deliverer should look at this subscription next
SS_LEASE_OWNER: Final = "lease_owner"  # the process delivering it now
SS_LEASE_UNTIL: Final = "lease_until"  # datetime: the lease ends (epoch when free)

# Event numbering: written by the one leased watcher's transactions, never by deliverers (no
# conflicts between them), and created with the Subscription.
SUBSCRIPTION_COUNTERS_COLLECTION: Final = "subscription_counters"
SC_LAST: Final = "n"  # last event number assigned (eventsSinceSubscriptionStart)

SUBSCRIPTION_EVENTS_COLLECTION: Final = "subscription_events"
SE_SUBSCRIPTION: Final = "s"  # subscription id
SE_NUMBER: Final = "n"  # event number, 1-based, per subscription
SE_AT: Final = "at"  # datetime of the event (the version's lastUpdated, or the trigger's time)
SE_FOCUS: Final = "focus"  # "Type/id/_history/v"
SE_METHOD: Final = "m"  # POST, PUT or DELETE (the write that made the version); "EVENT" for triggers
SE_TOPIC: Final = "topic"  # topic URL (None for criteria subscriptions)

SUBSCRIPTION_RUNTIME_COLLECTION: Final = "subscription_runtime"  # watcher cursor, trigger watermarks
SR_TOKEN: Final = "token"  # change-stream resume token
SR_WATERMARK: Final = "watermark"  # datetime up to which a time trigger has fired
SR_LEASE_OWNER: Final = "lease_owner"
SR_LEASE_UNTIL: Final = "lease_until"
SR_UPDATED: Final = "updated"


PROBE_PREFIX: Final = "subscription_probe."


def probe_collection_name(resource_type: str, round_number: int) -> str:
    """Where the watcher puts a batch's versions to run subscription criteria on them (a round holds
    at most one version of a resource: two versions of one resource go to two rounds)."""
    return f"{PROBE_PREFIX}{round_number}.{resource_type}"


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

# The audit trail (fhir_server.store.audit_log). AuditEvents are current-resource documents in
# ``resources.AuditEvent`` that also carry their place in the hash chain; the outbox holds the
# AuditEvent and Provenance of a write, committed in the write's transaction, until the audit
# writer moves them into their collections; the chain document holds the chain's head.
A_SEQ: Final = "aseq"  # int: position in the chain, 1-based, contiguous
A_MAC: Final = "amac"  # hex: keyed hash of the AuditEvent's canonical JSON, taken when it was made
A_LINK: Final = "alink"  # hex: keyed hash of the previous link and this event's mac
AUDIT_OUTBOX_COLLECTION: Final = "audit_outbox"
O_MOMENT: Final = "t"  # datetime the outbox entry was written
O_EVENT: Final = "ae"  # an AuditEvent resource (with its mac in A_MAC)
O_PROVENANCE: Final = "pv"  # a Provenance resource
O_TARGETS: Final = "tg"  # targets added to a client's Provenance, one per write of its transaction
AUDIT_CHAIN_COLLECTION: Final = "audit_chain"
C_HEAD: Final = "head"  # _id of the one chain document
C_SEQ: Final = "seq"  # sequence number of the newest sealed event (0: none yet)
C_LINK: Final = "link"  # its link
C_FLOOR: Final = "floor"  # sequence number of the oldest event kept (retention removes older ones)
C_FLOOR_LINK: Final = "floor_link"  # the link just before the floor, where verification starts
