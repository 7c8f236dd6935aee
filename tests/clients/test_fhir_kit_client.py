"""fhir-kit-client (npm), unmodified, in Node.js: totals on every page, paging, CRUD, JSON Patch,
conditional create, errors. Installed from ``tests/clients/node/package-lock.json`` on first use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks.server_process import ServerProcess
from tests.support import unique

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="module")
def node_client() -> Path:
    """The driver script, with fhir-kit-client installed (``npm ci`` from the lockfile, once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("fhir-kit-client needs Node.js and npm on PATH (apt-get install nodejs npm)")
    if not (NODE_DIR / "node_modules" / "fhir-kit-client" / "package.json").is_file():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return NODE_DIR / "drive.mjs"


def test_fhir_kit_client(node_client: Path, server: ServerProcess, fhir_base: str, token: str) -> None:
    family = unique("Kit")
    env = {**os.environ, "FHIR_BASE": fhir_base, "FHIR_TOKEN": token, "FAMILY": family}
    run = subprocess.run(
        ["node", str(node_client)], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["fhirVersion"] == "4.3.0"
    assert seen["totals"] == [7, 7, 7]  # every page of 3 says how many there are
    assert len(seen["paged"]) == 7 == len(set(seen["paged"]))
    assert seen["readFamily"] == family
    assert seen["updatedVersion"] == "2" and seen["patchedActive"] is True
    assert seen["historyVersions"] == 3
    assert seen["conditionalSameId"] is True
    assert seen["summaryCount"] == 7
    assert seen["readDeleted"] == 410 and seen["readMissing"] == 404
