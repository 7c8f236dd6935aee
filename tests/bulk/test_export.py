"""Bulk export at all three levels over HTTP (ASGI app, authorization on): kick-off, poll, download,
delete; the files hold exactly what the searches find, no more, no less, no line twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.bulk.conftest import Loaded
from tests.bulk.helpers import download, exported, ids, kick_off, search_ids, wait_manifest

SYNTHEA_TYPES = ("Patient", "Observation", "Encounter", "Condition", "Claim", "Practitioner", "Organization")


async def _compartment_union(loaded: Loaded, patients: list[str], resource_type: str) -> set[str]:
    token = loaded.token()
    found: set[str] = set()
    for patient in patients:
        found |= await search_ids(loaded.http, f"/Patient/{patient}/{resource_type}", token)
    return found


async def test_system_export_holds_every_resource_and_delete_removes_it(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    status = await kick_off(http, "/$export", token)
    assert status.startswith("http://testserver/fhir/bulk-status/")
    manifest, _ = await wait_manifest(http, status, token)
    assert manifest["request"] == "http://testserver/fhir/$export"
    assert manifest["requiresAccessToken"] is True
    assert datetime.fromisoformat(manifest["transactionTime"]) <= datetime.now(UTC)
    assert manifest["error"] == []
    by_type = await exported(http, manifest, token)
    assert set(SYNTHEA_TYPES) <= set(by_type)
    assert "StructureDefinition" in by_type  # the published conformance resources are data too
    assert sum(1 for output in manifest["output"] if output["type"] == "Observation") > 1  # files of 25
    for resource_type, resources in by_type.items():
        assert ids(resources) == await search_ids(http, f"/{resource_type}", token), resource_type

    assert (await http.delete(status, headers=token)).status_code == 202
    assert (await http.get(status, headers=token)).status_code == 404
    assert (await http.get(manifest["output"][0]["url"], headers=token)).status_code == 404
    assert (await http.delete(status, headers=token)).status_code == 404


async def test_patient_export_holds_the_patient_compartments(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    manifest, _ = await wait_manifest(http, await kick_off(http, "/Patient/$export", token), token)
    assert manifest["request"] == "http://testserver/fhir/Patient/$export"
    by_type = await exported(http, manifest, token)
    assert "Practitioner" not in by_type and "StructureDefinition" not in by_type  # not patient data
    assert ids(by_type["Patient"]) == set(loaded.patients)
    for resource_type in ("Observation", "Encounter", "Condition", "Claim", "Immunization"):
        expected = await _compartment_union(loaded, loaded.patients, resource_type)
        assert expected and ids(by_type.get(resource_type, [])) == expected, resource_type


async def test_group_export_holds_its_active_members_only(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    writer = loaded.token("system/*.cruds")
    first, second, third = loaded.patients
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "name": "Diabetes follow-up list",
        "member": [
            {"entity": {"reference": f"Patient/{first}"}},
            {"entity": {"reference": f"Patient/{second}"}, "inactive": True},
            {"entity": {"reference": f"http://testserver/fhir/Patient/{third}"}},
        ],
    }
    created = await http.post(
        "/Group", json=group, headers={**writer, "Content-Type": "application/fhir+json"}
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]

    manifest, _ = await wait_manifest(http, await kick_off(http, f"/Group/{group_id}/$export", token), token)
    by_type = await exported(http, manifest, token)
    assert ids(by_type["Patient"]) == {first, third}
    for resource_type in ("Observation", "Encounter", "Claim"):
        expected = await _compartment_union(loaded, [first, third], resource_type)
        assert ids(by_type[resource_type]) == expected, resource_type

    # POST with Parameters: the `patient` parameter narrows the group further.
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": f"Patient/{third}"}},
            {"name": "_type", "valueString": "Patient,Encounter"},
        ],
    }
    status = await kick_off(http, f"/Group/{group_id}/$export", token, json_body=body)
    manifest, _ = await wait_manifest(http, status, token)
    by_type = await exported(http, manifest, token)
    assert set(by_type) == {"Patient", "Encounter"}
    assert ids(by_type["Patient"]) == {third}
    assert ids(by_type["Encounter"]) == await _compartment_union(loaded, [third], "Encounter")

    missing = await http.get("/Group/no-such-group/$export", headers={**token, "Prefer": "respond-async"})
    assert missing.status_code == 404


async def test_since_exports_only_what_changed_after_it(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    writer = {**loaded.token("system/*.cruds"), "Content-Type": "application/fhir+json"}
    await asyncio.sleep(0.01)
    since = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    await asyncio.sleep(0.01)
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{loaded.patients[0]}"},
        "valueQuantity": {"value": "VALUE", "unit": "/min"},
    }
    # A decimal's precision is part of the value: 71.50 goes out as written, not as 71.5.
    body = json.dumps(observation).replace('"VALUE"', "71.50")
    created = await http.post("/Observation", content=body, headers=writer)
    assert created.status_code == 201
    patient = (await http.get(f"/Patient/{loaded.patients[1]}", headers=token)).json()
    patient["active"] = not patient.get("active", False)
    assert (await http.put(f"/Patient/{patient['id']}", json=patient, headers=writer)).status_code == 200

    params = {"_since": since, "_type": "Observation,Patient,Encounter"}
    manifest, _ = await wait_manifest(http, await kick_off(http, "/$export", token, params=params), token)
    by_type = await exported(http, manifest, token)
    assert set(by_type) == {"Observation", "Patient"}
    assert ids(by_type["Observation"]) == {created.json()["id"]}
    assert str(by_type["Observation"][0]["valueQuantity"]["value"]) == "71.50"
    assert ids(by_type["Patient"]) == {patient["id"]}


async def test_type_filters_are_searches_ored_per_type(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    laboratory = await search_ids(http, "/Observation", token, [("category", "laboratory")])
    vitals = await search_ids(http, "/Observation", token, [("category", "vital-signs")])
    assert laboratory and vitals

    params = [("_type", "Observation"), ("_typeFilter", "Observation?category=laboratory")]
    manifest, _ = await wait_manifest(http, await kick_off(http, "/$export", token, params=params), token)
    assert ids((await exported(http, manifest, token))["Observation"]) == laboratory

    params = [
        ("_type", "Observation,Condition"),
        ("_typeFilter", "Observation?category=laboratory,Observation?category=vital-signs"),
        ("_typeFilter", f"Condition?subject=Patient/{loaded.patients[0]}"),
    ]
    manifest, _ = await wait_manifest(http, await kick_off(http, "/$export", token, params=params), token)
    by_type = await exported(http, manifest, token)
    assert ids(by_type["Observation"]) == laboratory | vitals
    assert ids(by_type["Condition"]) == await _compartment_union(loaded, [loaded.patients[0]], "Condition")


async def test_elements_keep_the_named_and_mandatory_elements(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    params = {"_type": "Patient,Observation", "_elements": "birthDate,Observation.status"}
    manifest, _ = await wait_manifest(http, await kick_off(http, "/$export", token, params=params), token)
    by_type = await exported(http, manifest, token)
    for patient in by_type["Patient"]:
        assert set(patient) <= {"resourceType", "id", "meta", "birthDate"} and "birthDate" in patient
        assert any(tag["code"] == "SUBSETTED" for tag in patient["meta"]["tag"])
    for observation in by_type["Observation"]:
        # status and code are mandatory anyway; birthDate applies to every type, Observation has none
        assert set(observation) <= {"resourceType", "id", "meta", "status", "code"}


async def _refused(loaded: Loaded, path: str, params: Any, status: int, expression: str | None) -> None:
    headers = {**loaded.token(), "Prefer": "respond-async"}
    answer = await loaded.http.get(path, params=params, headers=headers)
    assert answer.status_code == status, answer.text
    issue = answer.json()["issue"][0]
    if expression is not None:
        assert issue["expression"] == [expression]


async def test_bad_kick_offs_are_refused_with_the_parameter_named(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    sync = await http.get("/$export", headers=token)
    assert sync.status_code == 400 and sync.json()["issue"][0]["expression"] == ["Prefer"]
    await _refused(loaded, "/$export", {"_outputFormat": "text/csv"}, 400, "_outputFormat")
    await _refused(loaded, "/$export", {"colour": "blue"}, 400, "colour")
    await _refused(loaded, "/$export", {"_type": "Nonsense"}, 400, "_type")
    await _refused(loaded, "/$export", {"_typeFilter": "Observation?nonsense=1"}, 400, "_typeFilter")
    await _refused(loaded, "/$export", {"_typeFilter": "Observation"}, 400, "_typeFilter")
    await _refused(
        loaded,
        "/$export",
        {"_type": "Patient", "_typeFilter": "Observation?status=final"},
        400,
        "_typeFilter",
    )
    await _refused(loaded, "/$export", {"_since": "yesterday"}, 400, "_since")
    await _refused(loaded, "/$export", {"_elements": "a.b.c"}, 400, "_elements")
    await _refused(loaded, "/$export", {"includeAssociatedData": "LatestProvenanceResources"}, 400, None)
    await _refused(loaded, "/$export", {"patient": f"Patient/{loaded.patients[0]}"}, 400, "patient")
    await _refused(loaded, f"/Patient/{loaded.patients[0]}/$export", None, 404, None)
    await _refused(loaded, "/Group/$export", None, 404, None)
    await _refused(loaded, "/Observation/$export", None, 404, None)
    for short in ("ndjson", "application/ndjson", "application/fhir+ndjson"):
        status = await kick_off(
            http, "/$export", token, params={"_outputFormat": short, "_type": "Organization"}
        )
        manifest, _ = await wait_manifest(http, status, token)
        assert [output["type"] for output in manifest["output"]] == ["Organization"]


async def test_lenient_handling_reports_what_it_left_out(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    params = httpx.QueryParams(
        [("_type", "Organization,Nonsense"), ("colour", "blue"), ("_typeFilter", "Organization?nope=1")]
    )
    lenient = {**token, "Prefer": "respond-async, handling=lenient"}
    answer = await http.get("/$export", params=params, headers=lenient)
    assert answer.status_code == 202, answer.text
    manifest, _ = await wait_manifest(http, answer.headers["Content-Location"], token)
    assert [output["type"] for output in manifest["output"]] == ["Organization"]
    assert len(manifest["error"]) == 1 and manifest["error"][0]["type"] == "OperationOutcome"
    outcomes = await download(http, manifest["error"][0]["url"], token)
    assert manifest["error"][0]["count"] == len(outcomes) == 3
    text = " ".join(o["issue"][0]["diagnostics"] for o in outcomes)
    assert "Nonsense" in text and "colour" in text and "nope" in text
    assert all(o["resourceType"] == "OperationOutcome" for o in outcomes)
