"""The audit trail's hash chain: what is hashed, and how links follow each other.

Every AuditEvent gets a *mac* when it is made: a keyed hash (HMAC-SHA256) of its canonical JSON.
When the audit writer stores events it gives each the next sequence number and a *link*: the keyed
hash of the previous link and the event's mac. Editing an event breaks its mac, removing one
leaves a gap in the sequence, reordering or forging one breaks the links after it.

With a key (``FHIR_AUDIT_CHAIN_KEY``, kept out of the database) nobody who can only write to the
database can recompute a valid chain; without one the hashes are plain SHA-256, which still catches
edits made without recomputing the chain (a careless or hurried intruder, a broken tool).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Final

from fhir_server.jsonio import dump_json

GENESIS: Final = "0" * 64  # the link before the first event


def canonical(resource: dict[str, Any]) -> bytes:
    """The bytes an event's mac covers: its JSON with sorted keys (MongoDB may reorder fields)."""
    return dump_json(resource, sort_keys=True)


@dataclass(frozen=True)
class ChainKey:
    secret: bytes | None

    @classmethod
    def of(cls, secret: str | None) -> ChainKey:
        return cls(secret.encode() if secret else None)

    def digest(self, data: bytes) -> str:
        if self.secret is None:
            return hashlib.sha256(data).hexdigest()
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()

    def mac(self, resource: dict[str, Any]) -> str:
        return self.digest(canonical(resource))

    def link(self, previous: str, mac: str) -> str:
        return self.digest(f"{previous}:{mac}".encode())
