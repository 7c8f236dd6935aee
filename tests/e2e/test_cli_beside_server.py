"""Every command of the command line while ``serve`` runs on the same data directory: each uses
the server's database (no second one on the same files) and its real base URL (the port it was
given, not the default), and a mistake is one line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from benchmarks.crash_harness import Serve
from fhir_server.store.embedded import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    server = Serve(data_dir=tmp_path_factory.mktemp("beside") / "var", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fhir_server(
    serve: Serve, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fhir_server.cli", *args],
        env={**serve.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_banner_shows_base_docs_metadata_and_a_first_token_command(serve: Serve) -> None:
    base = f"http://localhost:{serve.port}/fhir"
    log = serve.log_path.read_text()
    assert f"FHIR base  {base}" in log
    assert f"API docs   http://localhost:{serve.port}/docs" in log
    assert f"metadata   {base}/metadata" in log
    assert "dev-token --scope 'system/Patient.cruds'" in log
    assert serve.record()["base_url"] == base


def test_dev_token_signs_for_the_base_url_the_server_really_serves(serve: Serve) -> None:
    token = ok(fhir_server(serve, "dev-token", "--scope", "system/Patient.rs")).strip()
    payload = json.loads(_base64url(token.split(".")[1]))
    assert payload["aud"] == f"http://localhost:{serve.port}/fhir"  # not the default port 8080
    found = httpx.get(f"{serve.fhir_base}/Patient", headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200


def _base64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_users_create_writes_to_the_running_servers_database(serve: Serve) -> None:
    out = ok(
        fhir_server(
            serve,
            "users",
            "create",
            "--username",
            "alice",
            "--role",
            "doctor",
            env={"FHIR_NEW_USER_PASSWORD": "a long enough password 42"},
        )
    )
    assert "created user" in out
    again = fhir_server(
        serve, "users", "create", "--username", "alice", "--role", "doctor",
        env={"FHIR_NEW_USER_PASSWORD": "a long enough password 42"},
    )  # fmt: skip
    assert again.returncode != 0 and "Traceback" not in again.stderr  # the same database: a duplicate


def test_clients_create_prints_the_token_endpoint_of_the_running_server(serve: Serve) -> None:
    out = ok(
        fhir_server(
            serve, "clients", "create", "--kind", "public", "--name", "App",
            "--redirect-uri", "http://localhost:9000/cb", "--scope", "openid patient/*.rs",
        )
    )  # fmt: skip
    assert f"token endpoint: http://localhost:{serve.port}/oauth/token" in out


def test_launch_names_the_running_servers_base_as_iss(serve: Serve) -> None:
    out = ok(fhir_server(serve, "launch", "--patient", "123"))
    assert f"&iss=http://localhost:{serve.port}/fhir" in out


def test_import_loads_into_the_running_server(serve: Serve, tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:4b0e5a52-7f0e-4e59-9d7b-0b5b2c1e0a11",
                "resource": {"resourceType": "Patient", "gender": "female", "birthDate": "1990-02-03"},
                "request": {"method": "POST", "url": "Patient"},
            }
        ],
    }
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(bundle))
    ok(fhir_server(serve, "import", "--no-progress", str(path)))
    token = serve.token()
    read = httpx.get(
        f"{serve.fhir_base}/Patient/4b0e5a52-7f0e-4e59-9d7b-0b5b2c1e0a11",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert read.status_code == 200


def test_import_clinic_loads_into_the_running_server(serve: Serve) -> None:
    out = ok(fhir_server(serve, "import-clinic", str(FIXTURES / "clinic-import-example.json")))
    assert "38 resources" in out


def test_a_second_server_on_the_same_directory_is_refused_in_one_line(serve: Serve) -> None:
    line = one_line_error(fhir_server(serve, "serve", "--port", str(free_port())))
    assert f"`fhir-server serve` (pid {serve.record()['pid']}" in line
    assert "already runs on the data directory" in line


def test_a_bad_setting_is_a_one_line_error(serve: Serve) -> None:
    assert "FHIR_PORT" in one_line_error(
        fhir_server(serve, "dev-token", "--scope", "x", env={"FHIR_PORT": "no"})
    )


def test_a_port_in_use_is_a_one_line_error(serve: Serve, tmp_path: Path) -> None:
    taken = one_line_error(
        fhir_server(serve, "serve", "--port", str(serve.port), env={"FHIR_DATA_DIR": str(tmp_path / "other")})
    )
    assert f"cannot listen on 127.0.0.1:{serve.port}" in taken
