"""scripts/generate_snapshots.py on a tiny stand-in for the core package (no npm needed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

JsonDict = dict[str, Any]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "generate_snapshots.py"
CORE = "http://hl7.org/fhir/StructureDefinition/"


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("generate_snapshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_script()


def _element(element_id: str, *, min_: int = 0, max_: str = "*", type_: str | None = None) -> JsonDict:
    element: JsonDict = {
        "id": element_id,
        "path": element_id,
        "min": min_,
        "max": max_,
        "mapping": [{"map": "x"}],
    }
    if type_:
        element["type"] = [{"code": type_}]
    return element


def _core(directory: Path) -> Path:
    definitions = {
        "Patient": [
            _element("Patient"),
            _element("Patient.id", max_="1"),
            _element("Patient.extension", type_="Extension"),
            _element("Patient.identifier", type_="Identifier"),
            _element("Patient.name", type_="HumanName"),
        ],
        "Identifier": [
            _element("Identifier"),
            _element("Identifier.system", max_="1", type_="uri"),
            _element("Identifier.value", max_="1", type_="string"),
        ],
    }
    for name, elements in definitions.items():
        definition = {
            "resourceType": "StructureDefinition",
            "url": CORE + name,
            "snapshot": {"element": elements},
        }
        (directory / f"StructureDefinition-{name}.json").write_text(json.dumps(definition))
    return directory


def _profile(url: str, base: str, elements: list[JsonDict]) -> JsonDict:
    return {
        "resourceType": "StructureDefinition",
        "url": url,
        "type": "Patient",
        "baseDefinition": base,
        "differential": {"element": elements},
    }


MRN_PROFILE = _profile(
    "urn:p:mrn",
    CORE + "Patient",
    [
        {
            "id": "Patient",
            "path": "Patient",
            "constraint": [{"key": "p-1", "severity": "error", "human": "h", "expression": "name.exists()"}],
        },
        {
            "id": "Patient.identifier",
            "path": "Patient.identifier",
            "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        },
        {"id": "Patient.identifier:mrn", "path": "Patient.identifier", "min": 1, "max": "1"},
        {
            "id": "Patient.identifier:mrn.system",
            "path": "Patient.identifier.system",
            "min": 1,
            "fixedUri": "urn:mrn",
        },
        {"id": "Patient.name", "path": "Patient.name", "min": 1},
    ],
)


def test_builds_slices_expands_types_and_merges(tmp_path: Path) -> None:
    builder = generator.SnapshotBuilder(
        generator.CoreDefinitions(_core(tmp_path)), {"urn:p:mrn": MRN_PROFILE}
    )
    snapshot = builder.snapshot_of("urn:p:mrn")
    assert [e["id"] for e in snapshot] == [
        "Patient",
        "Patient.id",
        "Patient.extension",
        "Patient.identifier",
        "Patient.identifier:mrn",
        "Patient.identifier:mrn.system",
        "Patient.identifier:mrn.value",
        "Patient.name",
    ]
    by_id = {e["id"]: e for e in snapshot}
    assert by_id["Patient.identifier:mrn"]["sliceName"] == "mrn"
    assert "slicing" not in by_id["Patient.identifier:mrn"]
    assert by_id["Patient.identifier:mrn.system"]["path"] == "Patient.identifier.system"
    assert by_id["Patient.identifier:mrn.system"]["fixedUri"] == "urn:mrn"
    assert by_id["Patient.name"]["min"] == 1
    assert by_id["Patient"]["constraint"][0]["source"] == "urn:p:mrn"
    assert all("mapping" not in e for e in snapshot)
    base = generator.CoreDefinitions(tmp_path).by_url(CORE + "Patient")
    assert base["snapshot"]["element"][4]["min"] == 0  # the base stays untouched


def test_profiles_can_derive_from_profiles(tmp_path: Path) -> None:
    derived = _profile(
        "urn:p:derived",
        "urn:p:mrn",
        [{"id": "Patient.identifier:mrn.value", "path": "Patient.identifier.value", "min": 1}],
    )
    profiles = {"urn:p:mrn": MRN_PROFILE, "urn:p:derived": derived}
    builder = generator.SnapshotBuilder(generator.CoreDefinitions(_core(tmp_path)), profiles)
    by_id = {e["id"]: e for e in builder.snapshot_of("urn:p:derived")}
    assert by_id["Patient.identifier:mrn.value"]["min"] == 1
    assert by_id["Patient.identifier:mrn.system"]["fixedUri"] == "urn:mrn"


def test_unknown_differential_element_is_an_error(tmp_path: Path) -> None:
    broken = _profile("urn:p:b", CORE + "Patient", [{"id": "Patient.nickname", "path": "Patient.nickname"}])
    builder = generator.SnapshotBuilder(generator.CoreDefinitions(_core(tmp_path)), {"urn:p:b": broken})
    with pytest.raises(ValueError, match=r"no base|not in the base"):
        builder.snapshot_of("urn:p:b")


def test_main_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "core").mkdir()
    core = _core(tmp_path / "core")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    path = profiles / "StructureDefinition-mrn.json"
    path.write_text(json.dumps(MRN_PROFILE))
    assert generator.main(["--core", str(core), "--profiles", str(profiles), "--check"]) == 1
    assert generator.main(["--core", str(core), "--profiles", str(profiles)]) == 0
    written = json.loads(path.read_text())
    assert list(written)[-2:] == ["snapshot", "differential"]
    assert generator.main(["--core", str(core), "--profiles", str(profiles), "--check"]) == 0
    assert "0 snapshots out of date" in capsys.readouterr().out


def test_missing_core_package_explains_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="npm pack"):
        generator.CoreDefinitions(tmp_path)
