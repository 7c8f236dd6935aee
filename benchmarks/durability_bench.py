"""Kill rounds: are acknowledged writes ever lost when the server or its database dies?

Workload: one ``fhir-server serve`` (embedded database, auth on) on a data directory kept across
rounds. Each round, 8 clients create Patients for a few seconds; while writes are in flight the
database process, the server process, or both are killed with SIGKILL (in turn); the server is
started again where needed (after a database-only kill, ``serve`` restarts the database by
itself), and every write answered 201 in that round is read back. Prints acknowledged and lost
per round and in total.

    uv run python benchmarks/durability_bench.py [--rounds 20] [--seconds 3] [--durability fsync]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.crash_harness import Serve, Writers, missing, write_then
from fhir_server.store.embedded import free_port

MODES = ("database", "server", "both")


async def one_round(serve: Serve, mode: str, seconds: float) -> tuple[int, int, float]:
    """(acknowledged, lost, seconds until the server answered again) for one kill."""
    token = serve.token()
    writers = Writers(serve.fhir_base, token)
    crash = {"database": serve.kill_database, "server": serve.kill_server, "both": serve.kill_both}[mode]
    killed_at = await write_then(writers, seconds=seconds, crash=crash)
    if mode == "database":
        await asyncio.to_thread(serve.wait_ready)  # the supervisor brings it back
    else:
        await asyncio.to_thread(serve.start)
    back_after = time.monotonic() - killed_at
    lost = await missing(serve.fhir_base, serve.token(), writers.acknowledged)
    return len(writers.acknowledged), len(lost), back_after


async def run(rounds: int, seconds: float, durability: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        serve = Serve(
            data_dir=Path(scratch) / "var",
            port=free_port(),
            extra_env={"FHIR_EMBEDDED_DURABILITY": durability},
        )
        serve.start()
        total_acked = total_lost = 0
        try:
            for number in range(1, rounds + 1):
                mode = MODES[(number - 1) % len(MODES)]
                acked, lost, back = await one_round(serve, mode, seconds)
                total_acked += acked
                total_lost += lost
                print(
                    f"round {number:2d}  kill {mode:<8}  acknowledged {acked:5d}  lost {lost}  "
                    f"answering again after {back:5.1f} s",
                    flush=True,
                )
        finally:
            serve.stop()
        print(f"total: {total_acked} acknowledged, {total_lost} lost, {rounds} kill rounds ({durability})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0, help="writing before each kill")
    parser.add_argument("--durability", choices=("fsync", "write"), default="fsync")
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.seconds, args.durability))


if __name__ == "__main__":
    main()
