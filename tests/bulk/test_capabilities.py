"""The CapabilityStatement declares the bulk and $everything operations with their definitions."""

from __future__ import annotations

import httpx


async def test_capability_statement_declares_bulk_data_and_everything(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in statement["instantiates"]
    rest = statement["rest"][0]
    system = {op["name"]: op["definition"] for op in rest["operation"]}
    assert system["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    by_type = {
        r["type"]: {op["name"]: op["definition"] for op in r.get("operation", [])} for r in rest["resource"]
    }
    assert (
        by_type["Patient"]["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
    )
    assert by_type["Group"]["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
    assert by_type["Patient"]["everything"] == "http://hl7.org/fhir/OperationDefinition/Patient-everything"
    assert (
        by_type["Encounter"]["everything"] == "http://hl7.org/fhir/OperationDefinition/Encounter-everything"
    )
    assert "export" not in by_type["Observation"] and "everything" not in by_type["Observation"]
