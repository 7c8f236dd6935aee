"""Sweeping blobs that no Binary names: bytes left by writes that never committed.

Bytes reach the blob store before the transaction that records their Binary; a write that then
fails, a process killed in between, or an upload cut off leaves bytes (plaintext clinical
documents) that nothing points at. The sweeper deletes them:

1. list the blobs (and unfinished uploads) older than ``min_age``;
2. then read every blob key that any version, current or past, of any Binary names;
3. delete the listed blobs that are not named.

A write still in flight may yet commit a Binary naming its fresh blob, so only blobs older than
``min_age`` are candidates: longer than any write takes. Listing before reading the keys means a
Binary committed during the sweep is seen. One sweep per ``interval`` across every worker and
replica: a lease document in MongoDB decides which one runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import anyio.to_thread

from fhir_server.documents.blob_ref import blob_ref_of
from fhir_server.settings import Settings
from fhir_server.store.blob_local import INCOMING_DIR
from fhir_server.store.blob_sweep import DATABASE_ERRORS, binary_versions, take_lease
from fhir_server.store.blobs import BlobStore
from fhir_server.store.mongo import Database

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

SWEEP_JOB: Final = "blob-sweep"
FIRST_SWEEP_DELAY_SECONDS: Final = 60.0
_KEY_LENGTH: Final = 32
_HEX: Final = frozenset("0123456789abcdef")


def _is_blob_key(name: str) -> bool:
    return len(name) == _KEY_LENGTH and set(name) <= _HEX


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified: datetime  # UTC


class BlobInventory(Protocol):
    """What a blob store holds, for the sweeper (the stores themselves only address single blobs)."""

    def blobs(self) -> AsyncIterator[StoredObject]: ...

    async def drop_unfinished(self, *, older_than: datetime) -> int:
        """Remove uploads that never completed and started before ``older_than``; how many."""
        ...


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class LocalInventory:
    """``<root>/<key[:2]>/<key>`` files, and ``<root>/.incoming/*.part`` of cut-off uploads."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _scan(self) -> list[StoredObject]:
        found: list[StoredObject] = []
        if not self.root.is_dir():
            return found
        for shard in self.root.iterdir():
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            for path in shard.iterdir():
                if _is_blob_key(path.name) and path.name.startswith(shard.name):
                    with contextlib.suppress(FileNotFoundError):
                        found.append(StoredObject(path.name, _modified(path)))
        return found

    async def blobs(self) -> AsyncIterator[StoredObject]:
        for item in await anyio.to_thread.run_sync(self._scan):
            yield item

    def _drop(self, older_than: datetime) -> int:
        dropped = 0
        incoming = self.root / INCOMING_DIR
        for part in incoming.glob("*.part") if incoming.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                if _modified(part) < older_than:
                    part.unlink()
                    dropped += 1
        return dropped

    async def drop_unfinished(self, *, older_than: datetime) -> int:
        return await anyio.to_thread.run_sync(self._drop, older_than)


class S3Inventory:
    """Objects ``<prefix><key>`` of the bucket, and multipart uploads never completed."""

    def __init__(self, client: S3Client, *, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _scan(self) -> list[StoredObject]:
        found = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"].removeprefix(self.prefix)
                if _is_blob_key(key):
                    found.append(StoredObject(key, item["LastModified"].astimezone(UTC)))
        return found

    async def blobs(self) -> AsyncIterator[StoredObject]:
        for item in await anyio.to_thread.run_sync(self._scan):
            yield item

    def _drop(self, older_than: datetime) -> int:
        listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
        dropped = 0
        for upload in listing.get("Uploads", []):
            if upload["Initiated"].astimezone(UTC) < older_than:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                dropped += 1
        return dropped

    async def drop_unfinished(self, *, older_than: datetime) -> int:
        return await anyio.to_thread.run_sync(self._drop, older_than)


def open_inventory(settings: Settings) -> BlobInventory:
    if settings.blob_store == "local":
        return LocalInventory(settings.data_dir / "blobs")
    import boto3

    from fhir_server.store.blob_s3 import _client_config

    client: S3Client = boto3.session.Session().client(
        "s3",
        region_name=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url,
        config=_client_config(custom_endpoint=settings.s3_endpoint_url is not None),
    )
    return S3Inventory(client, bucket=str(settings.s3_bucket), prefix=settings.s3_prefix)


async def named_blob_keys(db: Database) -> set[str]:
    """Every blob key a version (current or past) of a Binary names."""
    keys: set[str] = set()
    async for resource in binary_versions(db):
        ref = blob_ref_of(resource)
        if ref is not None:
            keys.add(ref.key)
    return keys


@dataclass(frozen=True)
class SweepReport:
    deleted: int  # blobs no Binary names
    unfinished: int  # cut-off uploads
    kept: int  # old enough to sweep, but named


async def sweep_blobs(
    *,
    db: Database,
    blob_store: BlobStore,
    inventory: BlobInventory,
    min_age: timedelta,
    now: datetime | None = None,
) -> SweepReport:
    """Delete the blobs older than ``min_age`` that no Binary names (see the module docstring)."""
    cutoff = (now or datetime.now(UTC)) - min_age
    candidates = [item.key async for item in inventory.blobs() if item.modified < cutoff]
    unfinished = await inventory.drop_unfinished(older_than=cutoff)
    named = await named_blob_keys(db) if candidates else set()
    orphans = [key for key in candidates if key not in named]
    for key in orphans:
        await blob_store.delete(key)
    if orphans or unfinished:
        logger.warning("swept %d blobs no Binary names and %d unfinished uploads", len(orphans), unfinished)
    return SweepReport(deleted=len(orphans), unfinished=unfinished, kept=len(candidates) - len(orphans))


class BlobSweeper:
    """Runs ``sweep_blobs`` every ``settings.blob_sweep_interval`` seconds in the background."""

    def __init__(self, *, settings: Settings, db: Database, blob_store: BlobStore) -> None:
        self.settings = settings
        self.db = db
        self.blob_store = blob_store
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self, first_delay: float = FIRST_SWEEP_DELAY_SECONDS) -> None:
        if self.settings.blob_sweep_interval > 0:
            self._task = asyncio.create_task(self._run(first_delay), name="blob-sweeper")

    async def stop(self) -> None:
        # The flag ends the loop even when a driver call swallowed the cancellation.
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> SweepReport | None:
        """One sweep if this process holds the lease (None when another does)."""
        interval = self.settings.blob_sweep_interval
        if not await take_lease(self.db, chore=SWEEP_JOB, seconds=interval * 0.9, holder=self.holder):
            return None
        return await sweep_blobs(
            db=self.db,
            blob_store=self.blob_store,
            inventory=open_inventory(self.settings),
            min_age=timedelta(seconds=self.settings.blob_sweep_min_age),
        )

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run(self, first_delay: float) -> None:
        await self._pause(first_delay)
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except DATABASE_ERRORS as error:  # the database is down: next time
                logger.warning("blob sweep skipped", extra={"error_type": type(error).__name__})
            except Exception:  # the store failed: say so, and keep sweeping later
                logger.exception("blob sweep failed")
            await self._pause(self.settings.blob_sweep_interval)


__all__ = [
    "BlobInventory",
    "BlobSweeper",
    "LocalInventory",
    "S3Inventory",
    "SweepReport",
    "named_blob_keys",
    "open_inventory",
    "sweep_blobs",
]
