"""MongoDB client lifecycle: one client per process, opened and closed by the app's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from fhir_server.settings import Settings
from fhir_server.store.codec import DECIMAL_TYPE_REGISTRY
from fhir_server.store.embedded import EmbeddedDatabase, start_embedded

logger = logging.getLogger(__name__)

Document = dict[str, Any]


@dataclass
class DatabaseHandle:
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    embedded: EmbeddedDatabase | None

    async def close(self) -> None:
        await self.client.close()
        if self.embedded is not None:
            self.embedded.stop()


def start_configured_embedded(settings: Settings) -> EmbeddedDatabase:
    """Start the embedded database under ``data_dir`` (used when no MongoDB URI is configured)."""
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    return start_embedded(
        storage=data_dir / "db",
        port=settings.embedded_port,
        log_path=data_dir / "embedded-db.log",
        cache_size=settings.embedded_cache_size,
    )


def make_client(uri: str, listeners: Sequence[CommandListener] = ()) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        type_registry=DECIMAL_TYPE_REGISTRY,
        event_listeners=list(listeners),
        serverSelectionTimeoutMS=15000,
    )


async def connect(settings: Settings, listeners: Sequence[CommandListener] = ()) -> DatabaseHandle:
    """Connect to FHIR_MONGODB_URI, or start the embedded database when it is unset."""
    embedded = None
    uri = settings.mongodb_uri
    if uri is None:
        embedded = start_configured_embedded(settings)
        uri = embedded.uri
    client = make_client(uri, listeners)
    return DatabaseHandle(client=client, db=client[settings.database_name], embedded=embedded)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[AsyncDatabase[Document]]:
    """The configured database for command-line tools, closed (and the embedded one stopped) on exit."""
    handle = await connect(settings)
    try:
        yield handle.db
    finally:
        await handle.close()
