"""The hash chain: ``verify`` (and ``fhir-server audit verify``) finds every edit made directly in
the database: a changed event, a removed one, one put in, a cut-off tail."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from tests.audit.conftest import Audited, audited_app


@pytest_asyncio.fixture(loop_scope="session")
async def keyed(mongo_uri: str, tmp_path: Path) -> AsyncIterator[Audited]:
    """A fresh log per test (tampering spoils it), keyed as production should be."""
    async with audited_app(mongo_uri, tmp_path, audit_chain_key="test-chain-secret") as found:
        for n in range(5):
            await found.http.get(f"/Patient/p{n}", headers=found.doctor())
        await found.settle()
        yield found


def _collection(audited: Audited) -> Any:
    return audited.trail.log.events


async def _last(audited: Audited) -> int:
    """The newest sequence number (start-up wrote some events too: the published definitions)."""
    report = await audited.trail.log.verify()
    assert report.intact, report.problems
    assert report.first == 1 and report.checked == report.last >= 5
    return report.last


async def test_an_untouched_log_verifies(keyed: Audited) -> None:
    assert await _last(keyed) >= 5


async def test_an_edited_event_is_found(keyed: Audited) -> None:
    seq = await _last(keyed) - 2
    await _collection(keyed).update_one({"aseq": seq}, {"$set": {"res.action": "C"}})
    report = await keyed.trail.log.verify()
    assert any(problem.startswith(f"event {seq} ") and "changed" in problem for problem in report.problems)


async def test_an_edit_that_recomputes_plain_hashes_is_still_found_with_a_key(keyed: Audited) -> None:
    from fhir_server.store.audit_chain import ChainKey

    seq = await _last(keyed) - 3
    doc = await _collection(keyed).find_one({"aseq": seq})
    forged = {**doc["res"], "action": "C"}
    unkeyed = ChainKey.of(None)
    await _collection(keyed).update_one({"aseq": seq}, {"$set": {"res": forged, "amac": unkeyed.mac(forged)}})
    assert not (await keyed.trail.log.verify()).intact


async def test_a_removed_event_is_found(keyed: Audited) -> None:
    seq = await _last(keyed) - 3
    await _collection(keyed).delete_one({"aseq": seq})
    report = await keyed.trail.log.verify()
    assert any(f"events {seq}..{seq} are missing" in problem for problem in report.problems)


async def test_a_removed_tail_is_found(keyed: Audited) -> None:
    last = await _last(keyed)
    await _collection(keyed).delete_many({"aseq": {"$gte": last - 1}})
    report = await keyed.trail.log.verify()
    assert any(f"newest event found is {last - 2}" in problem for problem in report.problems)


async def test_an_event_put_in_is_found(keyed: Audited) -> None:
    doc = await _collection(keyed).find_one({"aseq": 1})
    forged = {key: value for key, value in doc.items() if key != "aseq"}
    await _collection(keyed).insert_one({**forged, "_id": "forged", "res": {**doc["res"], "id": "forged"}})
    report = await keyed.trail.log.verify()
    assert any("no chain position" in problem for problem in report.problems)


@pytest.mark.parametrize("tamper", [False, True])
async def test_the_command_line(keyed: Audited, tamper: bool, tmp_path: Path) -> None:
    settings = keyed.app.state.settings
    env = {
        **os.environ,
        "FHIR_MONGODB_URI": settings.mongodb_uri,
        "FHIR_DATABASE_NAME": settings.database_name,
        "FHIR_BASE_URL": settings.base_url,
        "FHIR_DATA_DIR": str(tmp_path),
        "FHIR_AUDIT_CHAIN_KEY": "test-chain-secret",
    }
    last = await _last(keyed)
    if tamper:
        await _collection(keyed).update_one({"aseq": last - 1}, {"$set": {"res.outcome": "0"}})
    verify = _cli(env, "audit", "verify")
    assert verify.returncode == (1 if tamper else 0), verify.stdout + verify.stderr
    assert (f"TAMPERED: event {last - 1} " in verify.stdout) == tamper
    output = tmp_path / "audit.ndjson"
    export = _cli(env, "audit", "export", "--since", "2000-01-01", "--output", str(output))
    assert export.returncode == 0, export.stderr
    lines = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert len(lines) == last and all(event["resourceType"] == "AuditEvent" for event in lines)
    exports = [e async for e in _collection(keyed).find({"res.subtype.code": "audit-export"})]
    assert len(exports) == 1  # the export itself is in the trail


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fhir_server.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
