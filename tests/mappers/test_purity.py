"""``mappers`` is a standalone package: importing all of it loads nothing of the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
import mappers.bundle, mappers.values
server = {"fhir_server", "pymongo", "fastapi"}
print(sorted(name for name in sys.modules if name.split(".")[0] in server), "mappers.bundle" in sys.modules)
"""


def test_importing_the_mappers_loads_nothing_of_the_server() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[] True"
