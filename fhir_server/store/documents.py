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
