"""Validation through the real app: every write path refuses what ``$validate`` refuses, decimals
round-trip exactly (create, read, search, history), clinic rules apply by content."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.support import unique

JsonDict = dict[str, Any]
FHIR = {"Content-Type": "application/fhir+json"}
CLINIC = "http://clinic.example.org/fhir"
EXPENSE_PROFILE = f"{CLINIC}/StructureDefinition/clinic-invoice-expense"


def _issues(response: httpx.Response) -> list[tuple[str, str]]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return [
        (i["code"], (i.get("expression") or [""])[0]) for i in outcome["issue"] if i["severity"] == "error"
    ]


async def test_invalid_json_is_refused_on_create_update_and_validate(client: httpx.AsyncClient) -> None:
    body = b'{"resourceType":"Patient","active":"true","name":[{"family":"Secret-Name","given":[""]}]}'
    expected = [("value", "Patient.active"), ("value", "Patient.name[0].given[0]")]
    created = await client.post("/Patient", content=body, headers=FHIR)
    assert created.status_code == 400 and _issues(created) == expected
    assert b"Secret-Name" not in created.content
    updated = await client.put(
        f"/Patient/{unique()}", content=body.replace(b"{", b'{"id":"x",', 1), headers=FHIR
    )
    assert updated.status_code == 400
    checked = await client.post("/Patient/$validate", content=body, headers=FHIR)
    assert checked.status_code == 200 and _issues(checked) == expected


async def test_duplicate_keys_null_and_empty_values_are_refused(client: httpx.AsyncClient) -> None:
    for body, where in [
        (b'{"resourceType":"Patient","gender":"male","gender":"female"}', "Patient.gender"),
        (b'{"resourceType":"Patient","gender":null}', "Patient.gender"),
        (b'{"resourceType":"Patient","name":[]}', "Patient.name"),
        (b'{"resourceType":"Patient","birthDate":""}', "Patient.birthDate"),
        (b'{"resourceType":"Patient","gender":"banana"}', "Patient.gender"),
    ]:
        response = await client.post("/Patient", content=body, headers=FHIR)
        assert response.status_code == 400, body
        assert [e for _, e in _issues(response)] == [where]


async def test_a_bom_is_accepted_and_nothing_is_coerced(client: httpx.AsyncClient) -> None:
    body = b'\xef\xbb\xbf{"resourceType":"Patient","active":true,"multipleBirthInteger":2}'
    created = await client.post("/Patient", content=body, headers=FHIR)
    assert created.status_code == 201
    read = await client.get(f"/Patient/{created.json()['id']}")
    assert read.json()["active"] is True and read.json()["multipleBirthInteger"] == 2


async def test_decimals_keep_their_precision_everywhere(client: httpx.AsyncClient) -> None:
    code = unique("code")
    body = (
        b'{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"urn:test","code":"'
        + code.encode()
        + b'"}]},"valueQuantity":{"value":1.50,"unit":"mg"},"component":['
        b'{"code":{"text":"a"},"valueQuantity":{"value":0.10}},'
        b'{"code":{"text":"b"},"valueQuantity":{"value":1.5e3}},'
        b'{"code":{"text":"c"},"valueQuantity":{"value":12345678901234567890.123}},'
        b'{"code":{"text":"d"},"valueQuantity":{"value":12345678901234567890}}]}'
    )
    created = await client.post("/Observation", content=body, headers=FHIR)
    assert created.status_code == 201, created.text
    texts = [
        b'"value":1.50',
        b'"value":0.10',
        b'"value":1.5E+3',
        b'"value":12345678901234567890.123',
        b'"value":12345678901234567890}',
    ]
    read = await client.get(f"/Observation/{created.json()['id']}")
    history = await client.get(f"/Observation/{created.json()['id']}/_history")
    found = await client.get("/Observation", params={"code": f"urn:test|{code}", "value-quantity": "1.5"})
    precise = await client.get("/Observation", params={"code": f"urn:test|{code}", "value-quantity": "1.50"})
    missed = await client.get("/Observation", params={"code": f"urn:test|{code}", "value-quantity": "1.6"})
    for response in (created, read, history, found):
        assert response.status_code == 200 or response is created
        for text in texts:
            assert text in response.content, (text, response.content)
    assert len(found.json()["entry"]) == 1 and len(precise.json()["entry"]) == 1
    assert missed.json().get("entry", []) == []


async def test_clinic_rules_apply_by_content(client: httpx.AsyncClient) -> None:
    expense: JsonDict = {
        "resourceType": "Invoice",
        "status": "issued",
        "date": "2024-03-01",
        "type": {"coding": [{"system": f"{CLINIC}/CodeSystem/clinic-invoice-kind", "code": "expense"}]},
        "extension": [
            {
                "url": f"{CLINIC}/StructureDefinition/expense-category",
                "valueCoding": {"system": f"{CLINIC}/CodeSystem/clinic-expense-category", "code": "rent"},
            },
            {
                "url": f"{CLINIC}/StructureDefinition/expense-reason",
                "valueCodeableConcept": {"text": "monthly"},
            },
        ],
        "totalGross": {"value": -5, "currency": "USD"},
    }
    refused = await client.post("/Invoice", content=orjson.dumps(expense), headers=FHIR)
    assert refused.status_code == 422
    assert ("invariant", "Invoice") in _issues(refused)  # clinic-inv-2: never negative
    expense["totalGross"]["value"] = 5
    created = await client.post("/Invoice", content=orjson.dumps(expense), headers=FHIR)
    assert created.status_code == 201, created.text
    assert created.json()["meta"]["profile"] == [EXPENSE_PROFILE]
    role = {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": "Practitioner/x"},
        "code": [{"coding": [{"system": f"{CLINIC}/CodeSystem/clinic-staff-role", "code": "janitor"}]}],
    }
    janitor = await client.post("/PractitionerRole", content=orjson.dumps(role), headers=FHIR)
    assert janitor.status_code == 422
    assert any(code == "code-invalid" for code, _ in _issues(janitor))


async def test_a_transaction_with_an_invalid_entry_commits_nothing(client: httpx.AsyncClient) -> None:
    family = unique("fam")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:2f1a9d1e-1111-4c1a-9a59-111111111111",
                "resource": {"resourceType": "Patient", "name": [{"family": family}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"}},
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    response = await client.post("/", content=orjson.dumps(bundle), headers=FHIR)
    assert response.status_code == 400
    search = await client.get("/Patient", params={"family": family})
    assert search.json().get("entry", []) == []
