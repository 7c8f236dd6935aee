"""Validation cost per resource: p50/p95 over the official R4B examples and a Synthea sample.

Runs from the repository root with the shared data beside it (``../shared``)::

    uv run python benchmarks/validation_bench.py [--synthea-files 4] [--repeat 3]

Reports, after one warm-up pass (compiled profiles and FHIRPath expressions are cached, as in the
server): the write path (``validate_for_write``: strict JSON, base definitions, claimed and clinic
profiles) of the official examples and of the Synthea resources, as mean microseconds per resource
and percentiles; ``$validate`` (base rules) of both; and profile validation of the clinic's
example resources and of the Synthea resources of the clinic's types checked against the clinic
profile of their type. Inputs are parsed as the server parses request bodies (exact decimals).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import FhirError
from fhir_server.jsonio import parse_json

JsonDict = dict[str, Any]
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "reference" / "fhir-r4b-examples"
SYNTHEA = SHARED / "data"
CLINIC_PROFILE = "http://clinic.example.org/fhir/StructureDefinition/clinic-{}"
# Synthea resource types that have a clinic profile, and its name.
CLINIC_TYPES = {
    "Patient": "patient", "Practitioner": "practitioner", "PractitionerRole": "practitionerrole",
    "Encounter": "encounter", "Condition": "condition", "Observation": "observation",
    "MedicationRequest": "medicationrequest", "CarePlan": "careplan", "Procedure": "procedure",
    "DocumentReference": "documentreference", "Media": "media", "Appointment": "appointment",
}  # fmt: skip


def official_examples() -> list[JsonDict]:
    return [parse_json(p.read_bytes()) for p in sorted(EXAMPLES.glob("*.json")) if not p.name.startswith("_")]


def synthea_resources(files: int) -> list[JsonDict]:
    paths = sorted(SYNTHEA.glob("synthea-*/*.json.gz"))
    step = max(1, len(paths) // max(files, 1))
    resources: list[JsonDict] = []
    for path in paths[::step][:files]:
        bundle = parse_json(gzip.decompress(path.read_bytes()))
        resources.extend(entry["resource"] for entry in bundle.get("entry", []))
    return resources


def clinic_examples() -> list[JsonDict]:
    return [parse_json(p.read_bytes()) for p in sorted((REPO / "profiles" / "examples").glob("*.json"))]


def measure(
    resources: Iterable[JsonDict], validate: Callable[[JsonDict], object], repeat: int
) -> list[float]:
    items = list(resources)
    for resource in items:  # warm-up: compile structures and expressions once
        validate(resource)
    timings = []
    for _ in range(repeat):
        for resource in items:
            start = time.perf_counter()
            validate(resource)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def report(name: str, timings: list[float], count: int) -> None:
    if not timings:
        print(f"{name:<48} no resources")
        return
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    mean_us = statistics.fmean(ordered) * 1000
    print(
        f"{name:<48} n={count:<6} mean={mean_us:8.0f} us  p50={p50 * 1000:7.0f} us  "
        f"p95={p95 * 1000:7.0f} us  max={ordered[-1]:8.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--synthea-files", type=int, default=4, help="Synthea bundles to sample")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over each set")
    args = parser.parse_args()
    started = time.perf_counter()
    validator = ProfileValidator.from_directories()
    print(f"validator built in {(time.perf_counter() - started) * 1000:.1f} ms")

    def base(resource: JsonDict) -> object:
        return validator.validate({k: v for k, v in resource.items() if k != "meta"})

    def as_clinic(resource: JsonDict) -> object:
        profile = CLINIC_PROFILE.format(CLINIC_TYPES[resource["resourceType"]])
        return validator.validate({k: v for k, v in resource.items() if k != "meta"}, profiles=[profile])

    def write_path(resource: JsonDict) -> object:
        try:
            return validator.validate_for_write(resource)
        except FhirError as refused:  # the two official examples that break a rule
            return refused

    examples = official_examples() if EXAMPLES.is_dir() else []
    synthea = synthea_resources(args.synthea_files) if SYNTHEA.is_dir() else []
    mapped = [r for r in synthea if r["resourceType"] in CLINIC_TYPES]
    clinic = clinic_examples()
    report("write path: official R4B examples", measure(examples, write_path, args.repeat), len(examples))
    report("write path: Synthea resources", measure(synthea, write_path, args.repeat), len(synthea))
    report("base: official R4B examples", measure(examples, base, args.repeat), len(examples))
    report("base: Synthea resources", measure(synthea, base, args.repeat), len(synthea))
    report(
        "profile: clinic examples (meta.profile)",
        measure(clinic, validator.validate, args.repeat),
        len(clinic),
    )
    report(
        "profile: Synthea resources as clinic profiles", measure(mapped, as_clinic, args.repeat), len(mapped)
    )


if __name__ == "__main__":
    main()
