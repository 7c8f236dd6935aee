"""A user's mistake on the command line is one line that says what to do, never a traceback."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_server.cli import main
from fhir_server.settings import get_settings
from fhir_server.store.embedded import free_port


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("FHIR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("FHIR_BASE_URL", raising=False)
    get_settings.cache_clear()
    # These tests assert on stderr: garbage left by earlier tests in this worker (an unclosed
    # socket's ResourceWarning) is collected before, not blamed on the command under test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    yield
    get_settings.cache_clear()


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_command_group_without_its_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users"]) == 2
    assert one_line(capsys) == "fhir-server users: error: name a subcommand (see fhir-server users --help)"


def test_a_setting_that_does_not_parse(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FHIR_DATABASE_TIMEOUT", "soon")
    assert main(["dev-token", "--scope", "system/Patient.rs"]) == 2
    line = one_line(capsys)
    assert line.startswith(
        "fhir-server dev-token: error: FHIR_DATABASE_TIMEOUT: Input should be a valid number"
    )
    assert "fix the environment variable" in line


def test_an_unreachable_database(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FHIR_MONGODB_URI", f"mongodb://127.0.0.1:{free_port()}/?directConnection=true")
    monkeypatch.setenv("FHIR_DATABASE_TIMEOUT", "0.5")
    monkeypatch.setenv("FHIR_NEW_USER_PASSWORD", "a long enough password 42")
    assert main(["users", "create", "--username", "bob", "--role", "nurse"]) == 2
    line = one_line(capsys)
    assert "cannot reach the database: start it, or check FHIR_MONGODB_URI" in line


def test_a_data_directory_that_cannot_be_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setenv("FHIR_DATA_DIR", str(blocked / "var"))
    monkeypatch.delenv("FHIR_MONGODB_URI", raising=False)
    assert main(["launch", "--patient", "1"]) == 2
    assert "file-not-dir" in one_line(capsys)


def test_a_file_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.json"
    assert main(["import", str(missing)]) == 2
    assert one_line(capsys) == f"import failed: {missing}: no such file or directory"
    assert main(["import-clinic", str(missing)]) == 2
    assert "cannot read the file" in capsys.readouterr().err
