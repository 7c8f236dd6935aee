"""Blob store on a local directory (the default, ``<data_dir>/blobs``).

Layout: ``<root>/<key[:2]>/<key>``. An upload is written to ``<root>/.incoming/<key>.part``
(created exclusively, mode 0600), fsynced, then renamed into place, so a blob is either whole or
absent. File I/O runs in worker threads; the event loop never blocks on the disk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterable, AsyncIterator
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final

import anyio
import anyio.to_thread

from fhir_server.errors import NotFound
from fhir_server.store.blob_ingest import BlobIngest
from fhir_server.store.blobs import StoredBlob, check_blob_key, new_blob_key, resolve_range
from fhir_server.store.sniff import Purpose

INCOMING_DIR: Final = ".incoming"
READ_CHUNK_BYTES: Final = 256 * 1024
_DIR_MODE: Final = 0o700
_FILE_MODE: Final = 0o600

logger = logging.getLogger(__name__)


def _create_exclusive(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    return os.fdopen(fd, "wb")


def _flush_to_disk(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def _discard(temp: Path) -> None:
    """Remove a failed upload's file; a failure here must not hide the original error."""
    try:
        temp.unlink(missing_ok=True)
    except OSError:
        logger.warning("Could not remove incomplete upload %s", temp.name, exc_info=True)


def _move_into_place(temp: Path, final: Path) -> None:
    final.parent.mkdir(mode=_DIR_MODE, exist_ok=True)
    os.replace(temp, final)


def _probe_writable(directory: Path) -> None:
    directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    probe = directory / f"ping-{new_blob_key()}"
    _create_exclusive(probe).close()
    probe.unlink()


class LocalBlobStore:
    def __init__(self, *, root: Path, read_chunk_bytes: int = READ_CHUNK_BYTES) -> None:
        self._root = root
        self._incoming = root / INCOMING_DIR
        self._read_chunk_bytes = read_chunk_bytes

    def _path(self, key: str) -> Path:
        check_blob_key(key)
        return self._root / key[:2] / key

    async def put(
        self,
        *,
        chunks: AsyncIterable[bytes],
        content_type: str,
        max_bytes: int,
        purpose: Purpose | None = None,
    ) -> StoredBlob:
        ingest = await BlobIngest.begin(
            chunks=chunks, declared=content_type, purpose=purpose, max_bytes=max_bytes
        )
        key = new_blob_key()
        await self._write(key=key, chunks=ingest.chunks())
        return ingest.stored(key)

    async def _write(self, *, key: str, chunks: AsyncIterator[bytes]) -> None:
        await anyio.to_thread.run_sync(
            partial(self._incoming.mkdir, mode=_DIR_MODE, parents=True, exist_ok=True)
        )
        temp = self._incoming / f"{key}.part"
        raw = await anyio.to_thread.run_sync(_create_exclusive, temp)
        try:
            try:
                out = anyio.wrap_file(raw)
                async for chunk in chunks:
                    await out.write(chunk)
                await anyio.to_thread.run_sync(_flush_to_disk, raw)
            finally:
                raw.close()  # already flushed, or being discarded: no thread hop needed
            await anyio.to_thread.run_sync(_move_into_place, temp, self._path(key))
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_discard, temp)
            raise

    async def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        first, last = resolve_range(start=start, end=end, size=await self._stat_size(path))
        return self._read(path, first=first, last=last)

    async def _read(self, path: Path, *, first: int, last: int) -> AsyncIterator[bytes]:
        remaining = last - first + 1
        if remaining <= 0:
            return
        async with await anyio.open_file(path, "rb") as source:
            await source.seek(first)
            while remaining > 0:
                chunk = await source.read(min(self._read_chunk_bytes, remaining))
                if not chunk:
                    raise NotFound("Blob content ended early.")
                remaining -= len(chunk)
                yield chunk

    async def _stat_size(self, path: Path) -> int:
        try:
            stat = await anyio.to_thread.run_sync(path.stat)
        except FileNotFoundError:
            raise NotFound("Blob not found.") from None
        return stat.st_size

    async def size(self, key: str) -> int:
        return await self._stat_size(self._path(key))

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(partial(self._path(key).unlink, missing_ok=True))

    async def ping(self) -> None:
        await anyio.to_thread.run_sync(_probe_writable, self._incoming)

    def presigned_url(
        self, key: str, *, content_type: str, expires: int = 300, download_name: str | None = None
    ) -> str | None:
        return None

    async def close(self) -> None:
        return None
