"""Generate the compact R4B data files under ``fhir_server/spec/`` from the official definitions.

Source: the npm package ``hl7.fhir.r4b.core@4.3.0`` (CC0-1.0), fetched with ``npm pack`` into a
temporary directory (never committed). Without npm, the shared reference copy
(``../shared/reference/fhir-r4b-definitions``) is used as a fallback; it only holds a subset of the
search parameters and no StructureDefinitions, so the fallback keeps an existing
``summary_elements.json.gz`` and says so.

Usage: ``uv run python scripts/generate_spec.py [--package-dir DIR] [--offline]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PACKAGE = "hl7.fhir.r4b.core@4.3.0"
ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "fhir_server" / "spec"
SHARED_COPY = ROOT.parent / "shared" / "reference" / "fhir-r4b-definitions"
COMPARTMENTS = ("patient", "encounter", "practitioner", "relatedPerson", "device")

# SearchParameter fields we keep, renamed to short keys where it helps.
KEPT_FIELDS = (
    "id",
    "url",
    "code",
    "base",
    "type",
    "expression",
    "target",
    "modifier",
    "comparator",
    "multipleOr",
    "multipleAnd",
    "chain",
    "description",
)


def _npm_pack(dest: Path) -> Path | None:
    """Download and unpack the core package; the ``package/`` directory, or None without npm."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        subprocess.run(
            [npm, "pack", PACKAGE, "--silent"], cwd=dest, check=True, capture_output=True, timeout=600
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"npm pack failed ({exc}); using the shared reference copy", file=sys.stderr)
        return None
    tarballs = list(dest.glob("*.tgz"))
    if not tarballs:
        return None
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _search_parameters_from_package(package: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(package.glob("SearchParameter-*.json")):
        yield _load(path)


def _search_parameters_from_shared(shared: Path) -> Iterator[dict[str, Any]]:
    bundle = _load(shared / "SearchParameters-subset.bundle.json")
    for entry in bundle["entry"]:
        yield entry["resource"]


def _is_definition(sp: dict[str, Any]) -> bool:
    """Keep the specification's parameters; drop the SearchParameter *examples* shipped in the package."""
    return bool(sp.get("base")) and not str(sp.get("id", "")).startswith("example")


def _compact_parameter(sp: dict[str, Any]) -> dict[str, Any]:
    out = {key: sp[key] for key in KEPT_FIELDS if key in sp}
    if "component" in sp:
        out["component"] = [
            {"definition": c["definition"], "expression": c["expression"]} for c in sp["component"]
        ]
    return out


def _compartments(source: Path) -> dict[str, dict[str, list[str]]]:
    result: dict[str, dict[str, list[str]]] = {}
    for name in COMPARTMENTS:
        definition = _load(source / f"CompartmentDefinition-{name}.json")
        members = {r["code"]: list(r["param"]) for r in definition["resource"] if r.get("param")}
        result[definition["code"]] = members
    return result


def _resource_types_from_package(package: Path) -> list[str]:
    types = []
    for path in package.glob("StructureDefinition-*.json"):
        sd = _load(path)
        concrete = sd.get("derivation") == "specialization" and not sd.get("abstract")
        if sd.get("kind") == "resource" and concrete:
            types.append(sd["type"])
    return sorted(set(types))


def _resource_types_from_schema(shared: Path) -> list[str]:
    with gzip.open(shared / "fhir.schema.json.gz", "rb") as fh:
        schema = json.load(fh)
    return sorted(schema["discriminator"]["mapping"])


def _element_info(package: Path, resource_types: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per resource type: top-level summary/mandatory/modifier elements; plus FHIRPath typing hints."""
    summary: dict[str, dict[str, list[str]]] = {}
    choice_names: set[str] = set()
    type_names: set[str] = set()
    wanted = set(resource_types)
    for path in sorted(package.glob("StructureDefinition-*.json")):
        sd = _load(path)
        if sd.get("derivation") != "specialization" or "snapshot" not in sd:
            continue
        if sd.get("kind") in ("primitive-type", "complex-type"):
            type_names.add(sd["type"])
        for element in sd["snapshot"]["element"]:
            if element["path"].endswith("[x]"):
                choice_names.add(element["path"].rsplit(".", 1)[-1][:-3])
        if sd["type"] not in wanted or sd.get("kind") != "resource":
            continue
        top: dict[str, list[str]] = {"summary": [], "mandatory": [], "modifier": []}
        for element in sd["snapshot"]["element"]:
            parts = element["path"].split(".")
            if len(parts) != 2:
                continue
            name = parts[1]
            if element.get("isSummary"):
                top["summary"].append(name)
            if element.get("min", 0) > 0:
                top["mandatory"].append(name)
            if element.get("isModifier"):
                top["modifier"].append(name)
        summary[sd["type"]] = top
    hints = {"choice_names": sorted(choice_names), "type_names": sorted(type_names)}
    return summary, hints


def _write_json(path: Path, data: Any, *, compress: bool) -> None:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if compress:
        # mtime=0: reproducible bytes, so regenerating gives no diff.
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
            fh.write(text.encode("utf-8"))
    else:
        path.write_text(text + "\n", encoding="utf-8")


def generate(package: Path | None, out_dir: Path = SPEC_DIR) -> None:
    source = package if package is not None else SHARED_COPY
    params_iter = (
        _search_parameters_from_package(package)
        if package is not None
        else _search_parameters_from_shared(SHARED_COPY)
    )
    params = sorted(
        (_compact_parameter(sp) for sp in params_iter if _is_definition(sp)), key=lambda p: p["id"]
    )
    resource_types = (
        _resource_types_from_package(package)
        if package is not None
        else _resource_types_from_schema(SHARED_COPY)
    )
    origin = PACKAGE if package is not None else f"{PACKAGE} (shared reference subset)"
    _write_json(
        out_dir / "search_parameters.json.gz",
        {"source": origin, "parameters": params},
        compress=True,
    )
    _write_json(out_dir / "compartments.json", _compartments(source), compress=False)
    _write_json(out_dir / "resource_types.json", resource_types, compress=False)
    if package is not None:
        summary, hints = _element_info(package, resource_types)
        _write_json(out_dir / "summary_elements.json.gz", summary, compress=True)
        _write_json(out_dir / "fhirpath_hints.json", hints, compress=False)
    else:
        print(
            "no StructureDefinitions in the fallback: summary/typing files left as they are", file=sys.stderr
        )
    print(f"wrote {len(params)} search parameters, {len(resource_types)} resource types from {origin}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, help="an already unpacked package/ directory")
    parser.add_argument("--offline", action="store_true", help="use the shared reference copy only")
    args = parser.parse_args()
    if args.package_dir is not None:
        generate(args.package_dir)
        return
    with tempfile.TemporaryDirectory(prefix="fhir-r4b-") as tmp:
        package = None if args.offline else _npm_pack(Path(tmp))
        generate(package)


if __name__ == "__main__":
    main()
