"""End to end: `fhir-server serve` as a real process (embedded database, auth on), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from benchmarks.server_process import ServerProcess, running_server
from tests.support import unique


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server() as process:
        yield process


def test_metadata_is_public_and_data_needs_a_token(server: ServerProcess) -> None:
    metadata = httpx.get(f"{server.base_url}/fhir/metadata")
    assert metadata.status_code == 200
    assert metadata.json()["fhirVersion"] == "4.3.0"
    anonymous = httpx.get(f"{server.base_url}/fhir/Patient")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.json()["resourceType"] == "OperationOutcome"
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    assert httpx.get(f"{server.base_url}/readyz").status_code == 200


def test_dev_token_creates_and_reads_without_phi_in_the_log(server: ServerProcess) -> None:
    token = server.dev_token("system/Patient.cruds")
    family, mrn = unique("Zebedee"), unique("MRN")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    body = {
        "resourceType": "Patient",
        "name": [{"family": family, "given": ["Ottoline"]}],
        "identifier": [{"system": "http://clinic.example.org/mrn", "value": mrn}],
    }
    created = httpx.post(f"{server.base_url}/fhir/Patient", json=body, headers=headers)
    assert created.status_code == 201, created.text
    read = httpx.get(created.headers["Location"].replace("/_history/1", ""), headers=headers)
    assert read.status_code == 200
    assert read.json()["name"][0]["family"] == family
    found = httpx.get(f"{server.base_url}/fhir/Patient", params={"family": family}, headers=headers)
    assert found.status_code == 200
    assert len(found.json()["entry"]) == 1
    narrower = server.dev_token("system/Observation.rs")
    refused = httpx.get(f"{server.base_url}/fhir/Patient", headers={"Authorization": f"Bearer {narrower}"})
    assert refused.status_code == 403
    log = server.log_path.read_text()
    assert "/fhir/Patient" in log or "Patient" in log  # the access log did record the requests
    for secret in (family, mrn, "Ottoline", token):
        assert secret not in log
