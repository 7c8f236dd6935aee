"""The README's first-token commands work as written, against a real server process."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from benchmarks.server_process import running_server

ROOT = Path(__file__).resolve().parents[2]
README_BASE = "http://127.0.0.1:8080"
_FENCED_SH = re.compile(r"```sh\n(.*?)```", re.S)


def quick_start_snippet() -> str:
    """The README's fenced block that mints a token and makes a first request."""
    blocks = [block for block in _FENCED_SH.findall((ROOT / "README.md").read_text()) if "dev-token" in block]
    assert blocks, "the README shows no dev-token command"
    return str(blocks[0])


def test_the_readme_token_commands_run_verbatim() -> None:
    snippet = quick_start_snippet()
    assert README_BASE in snippet
    with running_server() as server:
        # Only the port differs from the README's server (8080 may be taken here). The commands must
        # find the running server's base URL themselves, from the data directory: no FHIR_BASE_URL.
        env = {key: value for key, value in server.env.items() if key != "FHIR_BASE_URL"}
        script = snippet.replace(README_BASE, server.base_url)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env={**env, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", lines[0]), "the first command prints a signed token"
    bundle = json.loads(lines[-1])
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset", bundle
