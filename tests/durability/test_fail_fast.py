"""A transaction meeting an unreachable database ends in seconds (503), not after pymongo's 120 s
of retries; the client fails fast on plain operations too."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import ServerSelectionTimeoutError

from fhir_server.errors import ServiceUnavailable
from fhir_server.store.embedded import MEMORY, start_embedded
from fhir_server.store.mongo import make_client, unless_unreachable

TIMEOUT = 1.0


async def test_a_transaction_on_a_dead_database_gives_up_within_the_timeout() -> None:
    database = start_embedded(storage=MEMORY)
    client = make_client(database.uri, timeout=TIMEOUT)
    try:
        collection = client["fail_fast"]["things"]
        await collection.insert_one({"_id": "before"})
        assert database.process is not None
        database.process.send_signal(signal.SIGKILL)
        database.process.wait()

        async def work(session: AsyncClientSession) -> Any:
            return await collection.insert_one({"_id": "during"}, session=session)

        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            async with client.start_session() as session:
                await session.with_transaction(unless_unreachable(work))
        assert time.monotonic() - started < 3 * TIMEOUT + 1

        started = time.monotonic()
        with pytest.raises(ServerSelectionTimeoutError):
            await collection.find_one({"_id": "before"})
        assert time.monotonic() - started < 2 * TIMEOUT + 1
    finally:
        await client.close()
        database.stop()
