"""The CapabilityStatement comes from what the server supports; its summary, _elements and ETag."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.api.test_custom_search_parameter import nickname_parameter
from tests.support import unique

SUBSETTED = "SUBSETTED"


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


async def test_summary_keeps_the_summary_elements_at_every_level(client: httpx.AsyncClient) -> None:
    whole = await client.get("/metadata")
    summary = await client.get("/metadata", params={"_summary": "true"})
    assert summary.status_code == 200
    statement = summary.json()
    assert len(orjson.dumps(statement)) < len(orjson.dumps(whole.json())) / 20
    assert SUBSETTED in {tag["code"] for tag in statement["meta"]["tag"]}
    assert statement["fhirVersion"] == "4.3.0" and statement["format"] and statement["status"] == "active"
    rest = statement["rest"][0]
    assert rest["mode"] == "server" and "security" in rest
    assert "interaction" not in rest and "searchParam" not in rest  # not summary elements
    resources = {r["type"]: r for r in rest["resource"]}
    assert set(resources) == {r["type"] for r in whole.json()["rest"][0]["resource"]}
    appointment = resources["Appointment"]
    assert {op["name"] for op in appointment["operation"]} >= {"book", "cancel"}
    assert set(appointment) <= {"type", "profile", "supportedProfile", "operation"}
    assert "searchParam" not in resources["Patient"] and "interaction" not in resources["Patient"]


async def test_elements_cut_the_statement(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata", params={"_elements": "fhirVersion,format"})).json()
    assert statement["fhirVersion"] == "4.3.0" and "rest" not in statement
    assert SUBSETTED in {tag["code"] for tag in statement["meta"]["tag"]}
    assert {"status", "kind", "date"} <= set(statement)  # mandatory elements stay


@pytest.mark.parametrize("query", ["_summary=maybe", "_elements=rest.resource"])
async def test_bad_shaping_parameters_are_refused(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/metadata?{query}")
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [query.split("=")[0]]


async def test_etag_and_if_none_match(client: httpx.AsyncClient) -> None:
    whole = await client.get("/metadata")
    etag = whole.headers["etag"]
    assert etag.startswith('W/"')
    again = await client.get("/metadata", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    summary = await client.get("/metadata?_summary=true")
    assert summary.headers["etag"] not in (etag, None)
    cached = await client.get("/metadata?_summary=true", headers={"If-None-Match": summary.headers["etag"]})
    assert cached.status_code == 304
    stale = await client.get("/metadata?_summary=true", headers={"If-None-Match": etag})
    assert stale.status_code == 200  # the whole statement's tag is not the summary's
    assert (await client.get("/metadata", headers={"If-None-Match": '"other", ' + etag})).status_code == 304
    assert (await client.head("/metadata", headers={"If-None-Match": etag})).status_code == 304


async def test_etag_changes_with_what_the_server_supports(client: httpx.AsyncClient) -> None:
    before = await client.get("/metadata")
    code = unique("nick").replace("-", "")
    created = await client.post(
        "/SearchParameter",
        json=nickname_parameter(code),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert created.status_code == 201, created.text
    after = await client.get("/metadata", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    patient = next(r for r in after.json()["rest"][0]["resource"] if r["type"] == "Patient")
    assert code in {p["name"] for p in patient["searchParam"]}
