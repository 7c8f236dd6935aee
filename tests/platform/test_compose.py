"""docker-compose.yml: a replica set, an S3 store with its bucket, health-gated start, a locked-down app."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
LONG_RUNNING = ("mongo", "minio", "app")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", [])
    return " ".join(command) if isinstance(command, list) else str(command)


def test_mongo_runs_as_a_replica_set_initiated_by_its_health_check(services: dict[str, Any]) -> None:
    mongo = services["mongo"]
    assert mongo["image"].startswith("mongo:7")
    assert "--replSet rs0" in command_text(mongo)
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in check
    assert "_id: 'rs0'" in check
    assert "isWritablePrimary" in check  # healthy only once the node can take writes
    assert "ports" not in mongo  # no authentication in this dev stack: never published


def test_every_long_running_service_has_a_health_check(services: dict[str, Any]) -> None:
    for name in LONG_RUNNING:
        healthcheck = services[name]["healthcheck"]
        assert healthcheck["test"][0] in ("CMD", "CMD-SHELL"), name
        assert healthcheck["retries"] >= 3, name


def test_the_app_starts_only_after_its_backends_are_ready(services: dict[str, Any]) -> None:
    depends_on = services["app"]["depends_on"]
    assert depends_on["mongo"] == {"condition": "service_healthy"}
    assert depends_on["minio"] == {"condition": "service_healthy"}
    assert depends_on["minio-init"] == {"condition": "service_completed_successfully"}
    assert services["minio-init"]["depends_on"]["minio"] == {"condition": "service_healthy"}


def test_the_app_is_configured_for_the_replica_set_and_s3(services: dict[str, Any]) -> None:
    env = services["app"]["environment"]
    assert env["FHIR_MONGODB_URI"] == "mongodb://mongo:27017/?replicaSet=rs0"
    assert env["FHIR_BLOB_STORE"] == "s3"
    assert env["FHIR_S3_ENDPOINT_URL"] == "http://minio:9000"
    # The bucket the app uses is the one the init job creates (and versions, for backups).
    init = command_text(services["minio-init"])
    assert f"mc mb --ignore-existing local/{env['FHIR_S3_BUCKET']}" in init
    assert f"mc version enable local/{env['FHIR_S3_BUCKET']}" in init


def test_s3_credentials_come_from_the_environment_with_marked_dev_defaults() -> None:
    text = COMPOSE_FILE.read_text()
    assert "AWS_ACCESS_KEY_ID: ${MINIO_ROOT_USER:-fhir-dev-only}" in text
    assert "AWS_SECRET_ACCESS_KEY: ${MINIO_ROOT_PASSWORD:-fhir-dev-only-insecure-password}" in text
    assert "DEV-ONLY" in text


def test_the_app_container_is_locked_down(services: dict[str, Any]) -> None:
    app = services["app"]
    user = str(app["user"]).split(":")[0]
    assert user not in ("0", "root")
    assert app["read_only"] is True
    assert app["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in app["security_opt"]
    assert app["volumes"] == ["app-data:/var/lib/fhir-server"]


def test_the_app_gets_time_to_drain_on_shutdown(services: dict[str, Any]) -> None:
    grace = services["app"]["stop_grace_period"]
    assert grace.endswith("s")
    assert int(grace[:-1]) > 30  # uvicorn's graceful shutdown timeout in `fhir-server serve`


def test_published_ports_are_bound_to_the_local_machine(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_docker_compose_accepts_the_file() -> None:
    """`docker-compose config` is the authoritative check (Debian's docker-compose package)."""
    compose_binary = shutil.which("docker-compose")
    if compose_binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    completed = subprocess.run(
        [compose_binary, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
