"""MongoDB client lifecycle: one client per process, opened and closed by the app's lifespan.

Where the database is: ``FHIR_MONGODB_URI`` when set; otherwise the embedded database of the data
directory. If a process already runs it (``serve``, or another command), we use that one, whatever
command we are (see ``fhir_server.store.instance``); only when none runs do we start our own, and
own the directory until we close.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, ExecutionTimeout, ServerSelectionTimeoutError
from pymongo.monitoring import CommandListener, TopologyListener

from fhir_server.errors import ServiceUnavailable
from fhir_server.settings import Settings
from fhir_server.store.codec import DECIMAL_TYPE_REGISTRY
from fhir_server.store.embedded import EmbeddedDatabase, start_embedded
from fhir_server.store.instance import InstanceRecord, Ownership, claim, running_database
from fhir_server.store.supervisor import HEARTBEAT_SECONDS, DatabaseAvailability

logger = logging.getLogger(__name__)

Document = dict[str, Any]
Database = AsyncDatabase[Document]
# Failures that say the database cannot answer now (unreachable, failed over, timed out): a 503.
UNAVAILABLE_ERRORS: Final[tuple[type[Exception], ...]] = (ConnectionFailure, ExecutionTimeout)
Session = AsyncClientSession
T = TypeVar("T")
EMBEDDED_LOG: Final = "embedded-db.log"


@dataclass
class DatabaseHandle:
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    embedded: EmbeddedDatabase | None  # started by us (None: external, or another process's)
    ownership: Ownership | None = None  # held while we run the data directory's database
    availability: DatabaseAvailability | None = None

    async def close(self) -> None:
        if self.availability is not None:
            self.availability.closing = True
        await self.client.close()
        if self.embedded is not None:
            self.embedded.stop()
        if self.ownership is not None:
            self.ownership.release()


def start_configured_embedded(settings: Settings) -> EmbeddedDatabase:
    """Start the embedded database under ``data_dir`` (used when no MongoDB URI is configured).

    The caller must own the data directory (``fhir_server.store.instance.claim``)."""
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    return start_embedded(
        storage=data_dir / "db",
        port=settings.embedded_port,
        log_path=data_dir / EMBEDDED_LOG,
        cache_size=settings.embedded_cache_size,
        durability=settings.embedded_durability,
    )


def make_client(
    uri: str,
    listeners: Sequence[CommandListener | TopologyListener] = (),
    *,
    timeout: float = 5.0,
) -> AsyncMongoClient[Document]:
    """A client that fails fast when the database is unreachable and asks for durable writes.

    ``timeout`` bounds server selection and connecting, so a request meets a dead database with
    a 503 after that long instead of pymongo's default 30 s. ``w=majority, j=true`` is the write
    concern of writes outside transactions (transactions name theirs): acknowledged means written
    to the journal of a majority of the replica set."""
    milliseconds = int(timeout * 1000)
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        type_registry=DECIMAL_TYPE_REGISTRY,
        event_listeners=list(listeners),
        serverSelectionTimeoutMS=milliseconds,
        connectTimeoutMS=milliseconds,
        heartbeatFrequencyMS=int(HEARTBEAT_SECONDS * 1000),
        w="majority",
        journal=True,
    )


def unless_unreachable(work: Callable[[Session], Awaitable[T]]) -> Callable[[Session], Awaitable[T]]:
    """A ``with_transaction`` callback that gives up at once when the database cannot be reached.

    pymongo labels a server selection timeout inside a transaction "transient" and
    ``with_transaction`` retries it for up to 120 s: a request would hang two minutes while the
    database is down. Raised as ``ServiceUnavailable`` (not a pymongo error) it ends the loop, and
    the request is answered 503 after ``FHIR_DATABASE_TIMEOUT`` (twice that at worst: pymongo
    then tries to abort the transaction on the same unreachable server). Other transient errors
    (a conflict, a connection cut mid-transaction) are still retried."""

    async def attempt(session: Session) -> T:
        try:
            return await work(session)
        except ServerSelectionTimeoutError as error:
            raise ServiceUnavailable() from error

    return attempt


def _command_name() -> str:
    words = [word for word in sys.argv[1:3] if not word.startswith("-")]
    return " ".join(words) or "server"


def own_embedded(settings: Settings, ownership: Ownership, *, command: str) -> EmbeddedDatabase:
    """Start the data directory's database as its owner and publish where it is."""
    ownership.wait_for_previous_database()
    embedded = start_configured_embedded(settings)
    ownership.publish(
        InstanceRecord(pid=os.getpid(), command=command, database_uri=embedded.uri, database_pid=embedded.pid)
    )
    return embedded


async def connect(
    settings: Settings,
    listeners: Sequence[CommandListener | TopologyListener] = (),
    *,
    command: str | None = None,
) -> DatabaseHandle:
    """Connect to FHIR_MONGODB_URI, else to the data directory's running embedded database, else
    start it (and own the directory until ``close``). ``command`` names us in the directory's record."""
    embedded: EmbeddedDatabase | None = None
    ownership: Ownership | None = None
    uri = settings.mongodb_uri
    if uri is None:
        ownership = claim(settings.data_dir)
        if ownership is None:
            uri = running_database(settings.data_dir).database_uri
        else:
            try:
                embedded = own_embedded(settings, ownership, command=command or _command_name())
            except BaseException:
                ownership.release()
                raise
            uri = embedded.uri
    assert uri is not None
    availability = DatabaseAvailability()
    client = make_client(uri, [*listeners, availability], timeout=settings.database_timeout)
    return DatabaseHandle(
        client=client,
        db=client[settings.database_name],
        embedded=embedded,
        ownership=ownership,
        availability=availability,
    )


@asynccontextmanager
async def open_database(
    settings: Settings, *, command: str | None = None
) -> AsyncIterator[AsyncDatabase[Document]]:
    """The configured database for command-line tools, closed (and the embedded one stopped, if we
    started it) on exit. Uses a running server's database instead of starting a second one."""
    handle = await connect(settings, command=command)
    try:
        yield handle.db
    finally:
        await handle.close()
