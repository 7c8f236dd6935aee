"""What the current call has stored in the blob store and not yet written as a Binary.

Two registries kept in the call's ``RequestContext.scratch`` (shared by the steps of one call and
the entries of its bundle):

* *vouched* blobs: bytes this call streamed into the blob store itself (a raw Binary upload).
  The Binary write transform accepts a Binary naming such a key; a client-written blob reference
  is otherwise refused (unless an earlier version of the same Binary has it), so nobody can point
  a Binary at someone else's bytes.
* *pending* Binaries: Binaries for attachment bytes moved out of a DocumentReference or Media, or
  received by ``$upload``, created by the write hook inside the same transaction as the resource
  pointing at them (``fhir_server.documents.hooks``). Keyed by the server-assigned Binary id (a
  random UUID), so an entry can only be claimed by the resource the server built around it.
"""

from __future__ import annotations

from typing import Any, Final

from fhir_server.context import RequestContext
from fhir_server.store.blobs import StoredBlob

_VOUCHED: Final = "documents.vouched_blobs"
_PENDING: Final = "documents.pending_binaries"


def vouch(ctx: RequestContext, blob: StoredBlob) -> None:
    """From now on in this call, Binary writes may name this freshly stored blob."""
    vouched: dict[str, StoredBlob] = ctx.scratch.setdefault(_VOUCHED, {})
    vouched[blob.key] = blob


def vouched_blob(ctx: RequestContext, key: str) -> StoredBlob | None:
    vouched: dict[str, StoredBlob] = ctx.scratch.get(_VOUCHED, {})
    return vouched.get(key)


def add_pending_binary(ctx: RequestContext, binary_id: str, binary: dict[str, Any]) -> None:
    """Have the write hook create ``Binary/<binary_id>`` when a resource pointing at it is written.

    Entries are never popped: a transaction retried after a transient conflict writes them again.
    They end with the call.
    """
    pending: dict[str, dict[str, Any]] = ctx.scratch.setdefault(_PENDING, {})
    pending[binary_id] = binary


def pending_binary(ctx: RequestContext, binary_id: str) -> dict[str, Any] | None:
    pending: dict[str, dict[str, Any]] = ctx.scratch.get(_PENDING, {})
    return pending.get(binary_id)
