"""The GitHub Actions pipeline: tests against a real replica set, image built always, pushed on tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def steps_of(workflow: dict[Any, Any], job: str) -> list[dict[str, Any]]:
    steps = workflow["jobs"][job]["steps"]
    assert isinstance(steps, list)
    return steps


def test_runs_on_pushes_pull_requests_and_version_tags(workflow: dict[Any, Any]) -> None:
    triggers: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]  # YAML 1.1: on = true
    assert triggers["push"]["tags"] == ["v*"]
    assert "pull_request" in triggers
    assert workflow["permissions"] == {"contents": "read"}


def test_the_test_job_runs_the_readme_command_against_a_replica_set(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["test"]
    assert job["env"]["FHIR_MONGODB_URI"] == "mongodb://localhost:27017/?replicaSet=rs0&directConnection=true"
    steps = steps_of(workflow, "test")
    python = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "docker run -d --name mongo -p 27017:27017 mongo:7 --replSet rs0" in scripts
    assert "rs.initiate" in scripts
    assert "isWritablePrimary" in scripts
    assert [step["run"] for step in steps if "./dev test" in step.get("run", "")] == ["./dev test"]
    # MongoDB is up (and primary) before the tests start.
    runs = [step.get("run", "") for step in steps]
    assert min(i for i, run in enumerate(runs) if "rs.initiate" in run) < runs.index("./dev test")


def test_the_image_is_built_after_the_tests_and_pushed_only_for_tags(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["image"]
    assert job["needs"] == "test"
    assert job["permissions"]["packages"] == "write"
    build = next(step for step in job["steps"] if step.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["push"] == "${{ startsWith(github.ref, 'refs/tags/v') }}"
    login = next(step for step in job["steps"] if step.get("uses", "").startswith("docker/login-action"))
    assert login["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert login["with"]["registry"] == "ghcr.io"
    meta = next(step for step in job["steps"] if step.get("id") == "meta")
    assert meta["with"]["images"] == "ghcr.io/${{ github.repository }}"
