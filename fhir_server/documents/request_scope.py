"""What the current request has stored in the blob store and not yet written as a Binary.

Two request-scoped registries (context variables: each ASGI request runs in its own task):

* *vouched* blobs: bytes this request streamed into the blob store itself (a raw Binary upload).
  The Binary write transform accepts a Binary naming such a key; a client-written blob reference
  is otherwise refused (unless an earlier version of the same Binary has it), so nobody can point
  a Binary at someone else's bytes.
* *pending* Binaries: Binaries for attachment bytes moved out of a DocumentReference or Media, or
  received by ``$upload``, created by the write hook inside the same transaction as the resource
  pointing at them (``fhir_server.documents.hooks``). Keyed by the server-assigned Binary id (a
  random UUID), so an entry can only be claimed by the resource the server built around it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from fhir_server.store.blobs import StoredBlob

_VOUCHED: ContextVar[dict[str, StoredBlob] | None] = ContextVar("vouched_blobs", default=None)
_PENDING: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar("pending_binaries", default=None)


@contextmanager
def vouched(*blobs: StoredBlob) -> Iterator[None]:
    """Within the block, Binary writes may name these freshly stored blobs."""
    token = _VOUCHED.set({**(_VOUCHED.get() or {}), **{blob.key: blob for blob in blobs}})
    try:
        yield
    finally:
        _VOUCHED.reset(token)


def vouched_blob(key: str) -> StoredBlob | None:
    return (_VOUCHED.get() or {}).get(key)


def add_pending_binary(binary_id: str, binary: dict[str, Any]) -> None:
    """Have the write hook create ``Binary/<binary_id>`` when a resource pointing at it is written.

    Entries are never popped: a transaction retried after a transient conflict writes them again.
    They end with the request.
    """
    pending = _PENDING.get()
    if pending is None:
        pending = {}
        _PENDING.set(pending)
    pending[binary_id] = binary


def pending_binary(binary_id: str) -> dict[str, Any] | None:
    return (_PENDING.get() or {}).get(binary_id)
