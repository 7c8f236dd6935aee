"""The peer-comparison workload in one command: ``../shared/bench/fhir_bench.py`` and ``wrk`` against
a freshly started ``fhir-server serve`` (embedded database unless FHIR_MONGODB_URI is set).

    ./dev run python benchmarks/peer_bench.py [--quick] [fhir_bench.py options ...]

Starts the server on a fresh data directory, mints an admin token with ``dev-token``
(``system/*.cruds``), runs fhir_bench.py with its default counts (the same as the Medplum figures in
the performance issue) and prints its table; then, when ``wrk`` is installed (Debian package
``wrk``), ``wrk -t2 -c16 -d10s`` on one Patient read. Validation and audit stay on, as configured.
``--quick`` runs a tenth of the counts (a smoke run, not a figure).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from benchmarks.server_process import running_server

ROOT = Path(__file__).resolve().parents[1]
FHIR_BENCH = ROOT.parent / "shared" / "bench" / "fhir_bench.py"
QUICK = ["--creates", "200", "--reads", "200", "--updates", "100", "--searches", "50",
         "--conc-creates", "200", "--conc-reads", "200", "--bundles", "2", "--queries", "20"]  # fmt: skip


def _wrk(base_url: str, token: str) -> str:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        created = http.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Wrk"}]})
        created.raise_for_status()
        url = f"{base_url}/fhir/Patient/{created.json()['id']}"
    done = subprocess.run(
        ["wrk", "-t2", "-c16", "-d10s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return f"wrk read req/s: {rate.group(1) if rate else '?'} (non-2xx: {non_2xx.group(1) if non_2xx else 0})"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the counts (smoke run)")
    args, rest = parser.parse_known_args(argv)
    if not FHIR_BENCH.is_file():
        print(f"error: the workload is missing at {FHIR_BENCH}", file=sys.stderr)
        return 2
    with running_server() as server, tempfile.TemporaryDirectory() as scratch:
        token = server.dev_token("system/*.cruds")
        token_file = Path(scratch) / "token"
        token_file.write_text(token)
        command = [
            sys.executable,
            str(FHIR_BENCH),
            f"{server.base_url}/fhir",
            "--token-file",
            str(token_file),
        ]
        command += ["--label", "fhir-server", *(QUICK if args.quick else []), *rest]
        bench = subprocess.run(command, check=False)
        if bench.returncode != 0:
            return bench.returncode
        if shutil.which("wrk") is None:
            print("wrk: not installed (apt-get install wrk); the wrk figure is left out")
        else:
            print(_wrk(server.base_url, token))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
