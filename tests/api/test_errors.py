"""Bad input gets an OperationOutcome with the right status, and nothing is written."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory
from tests.support import client_for, unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}


async def count_patients(client: httpx.AsyncClient, family: str) -> int:
    bundle = (await client.get(f"/Patient?family={family}&_total=accurate")).json()
    return int(bundle["total"])


def outcome_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    return body  # type: ignore[no-any-return]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", content=b'{"resourceType": "Patient",', headers=FHIR_JSON)
    assert response.status_code == 400
    assert "malformed JSON" in outcome_of(response)["issue"][0]["diagnostics"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        ({"resourceType": "Observation", "status": "final", "code": {}}, ["resourceType"]),
        ({"name": [{"family": "x"}]}, ["resourceType"]),
        ({"resourceType": "Patient", "birthDate": "1974-13-45"}, ["Patient.birthDate"]),
        ({"resourceType": "Patient", "name": [{"family": 42}]}, ["Patient.name[0].family"]),
        ({"resourceType": "Patient", "colour": "blue"}, ["Patient.colour"]),
        ({"resourceType": "Patient", "name": "not a list"}, ["Patient.name"]),
    ],
)
async def test_invalid_resources_are_400_with_expression(
    client: httpx.AsyncClient, body: dict[str, object], expression: list[str]
) -> None:
    response = await client.post("/Patient", json=body, headers=FHIR_JSON)
    assert response.status_code == 400, response.text
    assert outcome_of(response)["issue"][0]["expression"] == expression  # type: ignore[index]


async def test_json_array_body_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", content=b"[1, 2]", headers=FHIR_JSON)
    assert response.status_code == 400


async def test_id_mismatch_on_update_is_400(client: httpx.AsyncClient) -> None:
    mismatch = await client.put(
        "/Patient/abc", json={"resourceType": "Patient", "id": "xyz"}, headers=FHIR_JSON
    )
    assert mismatch.status_code == 400
    assert outcome_of(mismatch)["issue"][0]["expression"] == ["id"]  # type: ignore[index]
    missing = await client.put("/Patient/abc", json={"resourceType": "Patient"}, headers=FHIR_JSON)
    assert missing.status_code == 400
    bad_id = await client.put(
        "/Patient/a_b", json={"resourceType": "Patient", "id": "a_b"}, headers=FHIR_JSON
    )
    assert bad_id.status_code == 400


async def test_unsupported_media_type_is_415(client: httpx.AsyncClient) -> None:
    xml = await client.post(
        "/Patient",
        content=b"<Patient xmlns='http://hl7.org/fhir'/>",
        headers={"Content-Type": "application/fhir+xml"},
    )
    assert xml.status_code == 415
    text = await client.post("/Patient", content=b"{}", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    outcome_of(text)


async def test_body_too_large_is_413_and_nothing_written(app_factory: AppFactory) -> None:
    app: FastAPI = await app_factory(max_body_bytes=2000)
    family = unique("big")
    big = {"resourceType": "Patient", "name": [{"family": family, "given": ["x" * 3000]}]}
    async with client_for(app) as client:
        response = await client.post("/Patient", json=big, headers=FHIR_JSON)
        assert response.status_code == 413
        outcome_of(response)
        assert await count_patients(client, family) == 0
        small = await client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)
        assert small.status_code == 201


async def test_invalid_write_leaves_nothing(client: httpx.AsyncClient) -> None:
    family = unique("fam")
    bad = {"resourceType": "Patient", "name": [{"family": family}], "birthDate": "not-a-date"}
    assert (await client.post("/Patient", json=bad, headers=FHIR_JSON)).status_code == 400
    assert await count_patients(client, family) == 0


async def test_unknown_route_is_operation_outcome(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient/1/_history/1/extra")
    assert response.status_code == 404
    outcome_of(response)


async def test_unknown_type_on_create_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/Spaceship", json={"resourceType": "Spaceship"}, headers=FHIR_JSON)
    assert response.status_code == 404
    outcome_of(response)
