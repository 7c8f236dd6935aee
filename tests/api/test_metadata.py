"""The CapabilityStatement and the OpenAPI document come from what the server supports."""

from __future__ import annotations

import httpx


async def test_capability_statement(client: httpx.AsyncClient) -> None:
    response = await client.get("/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.3.0"
    rest = statement["rest"][0]
    types = {resource["type"]: resource for resource in rest["resource"]}
    assert {"Patient", "Appointment", "Invoice", "Media", "Binary", "Slot"} <= set(types)
    patient = types["Patient"]
    assert {i["code"] for i in patient["interaction"]} >= {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "create",
    }
    params = {p["name"]: p["type"] for p in patient["searchParam"]}
    assert params["name"] == "string"
    assert params["identifier"] == "token"
    assert params["_lastUpdated"] == "date"
    assert {i["code"] for i in rest["interaction"]} >= {
        "transaction",
        "batch",
        "search-system",
        "history-system",
    }


async def test_openapi_describes_each_type(client: httpx.AsyncClient) -> None:
    schema = (await client.get("http://testserver/openapi.json")).json()
    paths = schema["paths"]
    assert "/fhir/Patient" in paths and "/fhir/Observation/{id}" in paths
    search = paths["/fhir/Patient"]["get"]
    assert any(param["name"] == "birthdate" for param in search["parameters"])
    create = paths["/fhir/Patient"]["post"]["requestBody"]["content"]["application/fhir+json"]
    assert create["example"] == {"resourceType": "Patient"}
    assert "/fhir/{resource_type}" not in paths
    docs = await client.get("http://testserver/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_supported_profiles_listed_and_served_read_only(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    invoice = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Invoice")
    expense = "http://clinic.example.org/fhir/StructureDefinition/clinic-invoice-expense"
    assert expense in invoice["supportedProfile"]
    found = (await client.get("/StructureDefinition", params={"url": expense})).json()
    assert len(found["entry"]) == 1
    definition = found["entry"][0]["resource"]
    assert definition["snapshot"]["element"]
    changed = {**definition, "status": "retired"}
    refused = await client.put(
        f"/StructureDefinition/{definition['id']}",
        json=changed,
        headers={"Content-Type": "application/fhir+json"},
    )
    assert refused.status_code == 405
    assert (await client.delete(f"/StructureDefinition/{definition['id']}")).status_code == 405
    assert (await client.get(f"/StructureDefinition/{definition['id']}")).json()["status"] == definition[
        "status"
    ]
    value_sets = (
        await client.get(
            "/ValueSet", params={"url": "http://clinic.example.org/fhir/ValueSet/clinic-staff-role"}
        )
    ).json()
    assert value_sets["entry"][0]["resource"]["resourceType"] == "ValueSet"
