"""An export survives the death of the server running it: `fhir-server serve` is killed (SIGKILL)
mid-export, started again on the same data, takes the job over once its lease lapses, resumes
after the last file it recorded and finishes with every resource exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks.server_process import ServerProcess, running_server
from fhir_server.auth.devtoken import make_dev_token
from fhir_server.settings import Settings
from tests.bulk.helpers import SYNTHEA, exported, kick_off, wait_manifest

PATIENTS = ("Clemente_Kreiger", "Felipe_Cazares", "Kermit_Trantow")
SETTINGS = {
    "FHIR_JOB_LEASE_SECONDS": "3",
    "FHIR_JOB_POLL_SECONDS": "0.2",
    "FHIR_BULK_EXPORT_FILE_RESOURCES": "5",  # a checkpoint every 5 resources: killed mid-way for sure
}


def _cli(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "fhir_server.cli", *args]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=300)
    return result.stdout


def _token(server: ServerProcess, data_dir: Path) -> dict[str, str]:
    """What `fhir-server dev-token` prints, signed in-process with the server's own key."""
    settings = Settings(data_dir=data_dir, base_url=f"{server.base_url}/fhir")
    token = make_dev_token(settings=settings, scope="system/*.rs", allow_wildcard=True)
    return {"Authorization": f"Bearer {token}"}


def _wait_database_gone(storage: Path, seconds: float = 60) -> None:
    """The killed server's embedded database stops on its own (it dies with its parent); wait for
    it to let go of the data before a new server opens it."""
    deadline = time.monotonic() + seconds
    marker = str(storage).encode()
    while time.monotonic() < deadline:
        alive = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes():
                    alive = True
                    break
            except OSError:
                continue
        if not alive:
            return
        time.sleep(0.2)
    raise AssertionError("the killed server's database did not stop")


async def test_an_export_survives_a_server_kill(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    files = [str(next(SYNTHEA.glob(f"{name}_*.json.gz"))) for name in PATIENTS]
    _cli({**os.environ, "FHIR_DATA_DIR": str(data_dir)}, "import", *files)

    with running_server(SETTINGS, data_dir=data_dir) as first:
        token = _token(first, data_dir)
        async with httpx.AsyncClient(base_url=f"{first.base_url}/fhir", timeout=30) as http:
            status = await kick_off(http, "/$export", token)
            seen = ""
            for _ in range(600):
                answer = await http.get(status, headers=token)
                assert answer.status_code == 202, "the export finished before the kill: make it longer"
                seen = answer.headers["X-Progress"]
                if seen.startswith("exporting") and int(seen.split(", ")[1].split()[0]) >= 10:
                    break
                await asyncio.sleep(0.02)
            first.process.kill()
            first.process.wait(timeout=30)
    files_before_kill = int(seen.split(", ")[1].split()[0])
    _wait_database_gone(data_dir / "db")

    with running_server(SETTINGS, data_dir=data_dir) as second:
        token = _token(second, data_dir)
        status_path = status[status.index("/fhir/") + len("/fhir") :]
        async with httpx.AsyncClient(base_url=f"{second.base_url}/fhir", timeout=30) as http:
            resumed = await http.get(status_path, headers=token)
            assert resumed.status_code == 202
            files_after_restart = int(resumed.headers["X-Progress"].split(", ")[1].split()[0])
            assert files_after_restart >= files_before_kill  # the recorded progress survived

            manifest, _ = await wait_manifest(http, status_path, token, seconds=240)
            assert all(o["url"].startswith(f"{second.base_url}/fhir/bulk-files/") for o in manifest["output"])
            by_type = await exported(http, manifest, token)  # no id twice within a type
            for resource_type, resources in by_type.items():
                answer = await http.get(f"/{resource_type}", params={"_summary": "count"}, headers=token)
                assert len(resources) == answer.json()["total"], resource_type
            assert len(by_type["Patient"]) == len(PATIENTS)
