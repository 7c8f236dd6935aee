"""What the revocation check costs on the read path: verifying one access token, N times.

Three ways, on the embedded database (or FHIR_MONGODB_URI) with 200 accounts, 50 clients and 500
revoked-grant markers:

- ``signature only``: no revocation check at all (the floor);
- ``query per request``: the truth of this instant read from the database each time (what
  introspection does);
- ``snapshot``: this process's snapshot, read again every ``revocation_check_seconds`` (the bearer
  check on /fhir requests).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pymongo import AsyncMongoClient

from fhir_server.auth import store
from fhir_server.auth.state import build_auth_state
from fhir_server.auth.tokens import TokenSubject, issue_access_token
from fhir_server.settings import Settings
from fhir_server.store.embedded import MEMORY, start_embedded

ROUNDS = 2000


async def _seed(db: Any) -> None:
    await db[store.USERS].insert_many(
        [{"_id": f"user{i}", "role": "doctor", "active": True, "gen": i % 3} for i in range(200)]
    )
    await db[store.CLIENTS].insert_many([{"_id": f"app{i}", "active": True, "gen": 0} for i in range(50)])
    await db[store.TOKENS].insert_many(
        [
            {"_id": store.revoked_grant_id(uuid.uuid4().hex), "kind": store.KIND_REVOKED_GRANT}
            for _ in range(500)
        ]
    )


async def _time(label: str, verify: Any, token: str) -> None:
    await verify(token)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        await verify(token)
    per_call = (time.perf_counter() - started) / ROUNDS * 1e6
    print(f"{label:<20} {per_call:8.1f} µs per token check ({ROUNDS} checks)")


async def main(uri: str, data_dir: Path) -> None:
    settings = Settings(mongodb_uri=uri, data_dir=data_dir, database_name=f"bench_{uuid.uuid4().hex[:8]}")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    db = client[settings.database_name]
    try:
        await _seed(db)
        auth = await build_auth_state(settings, db)
        who = TokenSubject(
            subject="user7", client_id="app3", scopes=("user/*.rs",), grant_id="g1",
            user_generation=1, client_generation=0,
        )  # fmt: skip
        token = issue_access_token(key=auth.server_key, urls=auth.urls, who=who, lifetime=300).token
        verifier = auth.verifier
        await _time("signature only", lambda t: verifier.verify(t, None), token)
        await _time("query per request", lambda t: verifier.verify(t, db, fresh=True), token)
        await _time("snapshot", lambda t: verifier.verify(t, db), token)
        await auth.aclose()
    finally:
        await client.drop_database(settings.database_name)
        await client.close()


if __name__ == "__main__":
    configured = os.environ.get("FHIR_MONGODB_URI")
    embedded = None if configured else start_embedded(storage=MEMORY)
    uri = configured or (embedded.uri if embedded is not None else "")
    try:
        with TemporaryDirectory() as scratch:
            asyncio.run(main(uri, Path(scratch)))
    finally:
        if embedded is not None:
            embedded.stop()
