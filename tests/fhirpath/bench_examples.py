"""Base validation of the official R4B examples: time per pass and per invariant evaluation.

    uv run python -m tests.fhirpath.bench_examples                      # the current engine
    git show d53f0ce:fhir_server/conformance/invariants.py > /tmp/old_invariants.py
    uv run python -m tests.fhirpath.bench_examples --invariants-module /tmp/old_invariants.py

``--invariants-module`` loads another ``invariants.py`` in place of ours (the fhirpathpy-based one
of the commit before the switch), so both run on the same validator and data.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from tests.support import SHARED

EXAMPLES = SHARED / "reference" / "fhir-r4b-examples"
PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def _load_invariants(path: str) -> None:
    name = "fhir_server.conformance.invariants"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invariants-module", help="an invariants.py to use instead of ours")
    args = parser.parse_args()
    if args.invariants_module:
        _load_invariants(args.invariants_module)
    from fhir_server.conformance import invariants
    from fhir_server.conformance.validator import ProfileValidator

    timing = {"evaluated": 0, "seconds": 0.0}
    original = invariants.InvariantEngine.check

    def timed(self: Any, constraint: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        outcome = original(self, constraint, **kwargs)
        can_fail = invariants.CAN_FAIL.get(constraint.key)
        if can_fail is None or can_fail(kwargs["node"]):
            timing["evaluated"] += 1
            timing["seconds"] += time.perf_counter() - start
        return outcome

    invariants.InvariantEngine.check = timed  # type: ignore[method-assign]
    validator = ProfileValidator.from_directories([PROFILES])
    documents = [orjson.loads(path.read_bytes()) for path in sorted(EXAMPLES.glob("*.json"))]
    documents = [d for d in documents if isinstance(d, dict) and "resourceType" in d]
    for document in documents:  # warm: every expression compiled
        validator.validate(document)
    best = float("inf")
    for _ in range(3):
        timing.update(evaluated=0, seconds=0.0)
        start = time.perf_counter()
        for document in documents:
            validator.validate(document)
        best = min(best, time.perf_counter() - start)
    evaluated = int(timing["evaluated"])
    print(f"{len(documents)} examples: {best * 1000:.0f} ms per validation pass")
    print(f"{evaluated} invariant evaluations per pass: {timing['seconds'] / evaluated * 1e6:.0f} us each")


if __name__ == "__main__":
    main()
