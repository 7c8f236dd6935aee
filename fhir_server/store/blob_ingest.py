"""Validation and accounting of an upload while a blob store writes it.

``BlobIngest.begin`` buffers just the head the sniffer needs and checks it; ``chunks()`` then yields
the bytes to the store, counting, hashing and (for text) checking each chunk, and raises
``PayloadTooLarge`` as soon as the limit is passed. A store writes what ``chunks()`` yields and
commits only once it is exhausted, so every rejection leaves nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterable, AsyncIterator

from fhir_server.errors import PayloadTooLarge
from fhir_server.store.blobs import StoredBlob
from fhir_server.store.sniff import SNIFF_BYTES, Purpose, TextContentGuard, check_content, text_guard_for


class BlobIngest:
    def __init__(
        self,
        *,
        source: AsyncIterator[bytes],
        head_chunks: list[bytes],
        content_type: str,
        max_bytes: int,
    ) -> None:
        self.content_type = content_type
        self._source = source
        self._head_chunks = head_chunks
        self._max_bytes = max_bytes
        self._guard: TextContentGuard | None = text_guard_for(content_type)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._size = 0
        self._complete = False

    @classmethod
    async def begin(
        cls,
        *,
        chunks: AsyncIterable[bytes],
        declared: str,
        purpose: Purpose | None,
        max_bytes: int,
    ) -> BlobIngest:
        """Read and check the head; raises the errors of ``check_content`` or ``PayloadTooLarge``."""
        source = aiter(chunks)
        head_chunks: list[bytes] = []
        buffered = 0
        while buffered < SNIFF_BYTES:
            chunk = await anext(source, None)
            if chunk is None:
                break
            if chunk:
                head_chunks.append(chunk)
                buffered += len(chunk)
        if buffered > max_bytes:
            raise _too_large(max_bytes)
        head = b"".join(head_chunks)[:SNIFF_BYTES]
        content_type = check_content(head=head, declared=declared, purpose=purpose)
        return cls(source=source, head_chunks=head_chunks, content_type=content_type, max_bytes=max_bytes)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Every byte of the upload, checked; raises before the end if anything is wrong."""
        head_chunks, self._head_chunks = self._head_chunks, []
        for chunk in head_chunks:
            yield self._accept(chunk)
        async for chunk in self._source:
            if chunk:
                yield self._accept(chunk)
        if self._guard is not None:
            self._guard.finish()
        self._complete = True

    def stored(self, key: str) -> StoredBlob:
        if not self._complete:
            raise RuntimeError("The upload was not read to the end.")
        return StoredBlob(
            key=key,
            size=self._size,
            sha1_base64=base64.b64encode(self._sha1.digest()).decode("ascii"),
            content_type=self.content_type,
        )

    def _accept(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            raise _too_large(self._max_bytes)
        self._sha1.update(chunk)
        if self._guard is not None:
            self._guard.feed(chunk)
        return chunk


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The content exceeds the limit of {max_bytes} bytes.")
