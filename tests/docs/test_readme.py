"""The README stays true: its configuration table is the one the settings generate."""

from __future__ import annotations

from pathlib import Path

from fhir_server.cli import readme_with_config_table

ROOT = Path(__file__).resolve().parents[2]


def test_readme_configuration_table_matches_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme == readme_with_config_table(readme), "run: fhir-server config-table --write README.md"
    assert "`FHIR_MONGODB_URI`" in readme and "`FHIR_BASE_URL`" in readme and "`FHIR_DATA_DIR`" in readme


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == "./dev test"
    assert "./dev test" in (ROOT / "README.md").read_text()
