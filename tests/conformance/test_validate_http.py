"""$validate and ValueSet/$expand through the real app's HTTP routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest_asyncio

from .conftest import CLINIC, example_paths, read_json

JsonDict = dict[str, Any]
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest_asyncio.fixture(loop_scope="session")
async def http(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    yield client


def _severities(outcome: JsonDict) -> set[str]:
    assert outcome["resourceType"] == "OperationOutcome"
    return {issue["severity"] for issue in outcome["issue"]}


async def test_validate_a_resource_body(http: httpx.AsyncClient, example: Callable[[str], JsonDict]) -> None:
    response = await http.post(
        "/Patient/$validate", json=example("clinic-patient-example"), headers=FHIR_JSON
    )
    assert response.status_code == 200
    assert _severities(response.json()) == {"information"}


async def test_validate_parameters_against_a_profile(
    http: httpx.AsyncClient, example: Callable[[str], JsonDict]
) -> None:
    expense = example("clinic-invoice-expense-example")
    del expense["meta"]
    expense["type"]["coding"][0]["code"] = "income"
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": expense},
        {"name": "profile", "valueUri": f"{CLINIC}/StructureDefinition/clinic-invoice-expense"},
    ]}  # fmt: skip
    response = await http.post("/Invoice/$validate", json=parameters, headers=FHIR_JSON)
    assert response.status_code == 200
    (issue,) = response.json()["issue"]
    assert issue["severity"] == "error"
    assert issue["expression"] == ["Invoice.type.coding[0].code"]


async def test_validate_a_stored_instance(
    http: httpx.AsyncClient, example: Callable[[str], JsonDict]
) -> None:
    practitioner = example("clinic-practitioner-example")
    del practitioner["meta"]
    stored = await http.put(f"/Practitioner/{practitioner['id']}", json=practitioner, headers=FHIR_JSON)
    assert stored.status_code in (200, 201)
    profile = f"{CLINIC}/StructureDefinition/clinic-practitioner"
    response = await http.get(f"/Practitioner/{practitioner['id']}/$validate", params={"profile": profile})
    assert response.status_code == 200
    assert _severities(response.json()) == {"information"}
    missing = await http.get("/Practitioner/does-not-exist/$validate")
    assert missing.status_code == 404


async def test_expand_by_url_and_by_id(http: httpx.AsyncClient) -> None:
    by_url = await http.get("/ValueSet/$expand", params={"url": f"{CLINIC}/ValueSet/clinic-expense-category"})
    assert by_url.status_code == 200
    assert by_url.json()["expansion"]["total"] == 10
    by_id = await http.get("/ValueSet/clinic-income-source/$expand", params={"filter": "don"})
    assert by_id.status_code == 200
    assert [c["code"] for c in by_id.json()["expansion"]["contains"]] == ["donation"]


async def test_expand_errors_are_operation_outcomes(http: httpx.AsyncClient) -> None:
    unknown = await http.get("/ValueSet/$expand", params={"url": f"{CLINIC}/ValueSet/unknown"})
    assert unknown.status_code == 404
    assert unknown.json()["resourceType"] == "OperationOutcome"
    no_url = await http.get("/ValueSet/$expand")
    assert no_url.status_code == 400


async def test_writes_claiming_a_profile_must_conform(
    http: httpx.AsyncClient, example: Callable[[str], JsonDict]
) -> None:
    expense = example("clinic-invoice-expense-example")
    del expense["id"], expense["date"]
    refused = await http.post("/Invoice", json=expense, headers=FHIR_JSON)
    assert refused.status_code == 422
    assert ["Invoice.date"] in [issue.get("expression") for issue in refused.json()["issue"]]
    expense["date"] = "2026-11-02"
    created = await http.post("/Invoice", json=expense, headers=FHIR_JSON)
    assert created.status_code == 201


async def test_clinic_search_parameters_find_the_examples(
    http: httpx.AsyncClient, example: Callable[[str], JsonDict]
) -> None:
    for name in ("invoice-expense", "invoice-income", "procedure"):
        resource = example(f"clinic-{name}-example")
        stored = await http.put(
            f"/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON
        )
        assert stored.status_code in (200, 201)
    queries = {
        "/Invoice?kind=expense": "clinic-invoice-expense-example",
        "/Invoice?expense-category=supplies": "clinic-invoice-expense-example",
        "/Invoice?expense-reason=replacement": "clinic-invoice-expense-example",
        "/Invoice?income-source=donation": "clinic-invoice-income-example",
        "/Procedure?appointment=Appointment/clinic-appointment-example": "clinic-procedure-example",
    }
    for query, expected in queries.items():
        found = await http.get(query)
        assert found.status_code == 200
        assert [e["resource"]["id"] for e in found.json().get("entry", [])] == [expected], query


async def test_every_example_is_accepted_and_validates_when_stored(http: httpx.AsyncClient) -> None:
    for path in example_paths():
        resource = read_json(path)
        kind, resource_id = resource["resourceType"], resource["id"]
        stored = await http.put(f"/{kind}/{resource_id}", json=resource, headers=FHIR_JSON)
        assert stored.status_code in (200, 201), (path.name, stored.text)
        checked = await http.post(f"/{kind}/{resource_id}/$validate", headers=FHIR_JSON)
        assert _severities(checked.json()) == {"information"}, path.name
