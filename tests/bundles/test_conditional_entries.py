"""Conditional references, conditional writes and If-Match inside bundle entries."""

from __future__ import annotations

import asyncio

import httpx

from tests.bundles.builders import (
    MRN,
    NPI,
    batch,
    create,
    patient,
    post,
    practitioner,
    put,
    reference_of,
    request,
    search_ids,
    send,
    statuses,
    transaction,
    urn,
)
from tests.support import unique


def _encounter(practitioner_reference: str, patient_reference: str | None = None) -> dict[str, object]:
    encounter: dict[str, object] = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"code": "AMB"},
        "participant": [{"individual": {"reference": practitioner_reference}}],
    }
    if patient_reference is not None:
        encounter["subject"] = {"reference": patient_reference}
    return encounter


async def test_conditional_reference_to_exactly_one_match_is_resolved(client: httpx.AsyncClient) -> None:
    npi = unique("npi")
    doctor = await create(client, practitioner(npi))
    condition = f"Practitioner?identifier={NPI}|{npi}"
    response = await send(client, transaction(post(_encounter(condition))))
    assert response.status_code == 200, response.text
    encounter = (await client.get(f"/{reference_of(response.json()['entry'][0])}")).json()
    assert encounter["participant"][0]["individual"]["reference"] == f"Practitioner/{doctor['id']}"
    in_batch = await send(client, batch(post(_encounter(condition))))
    assert statuses(in_batch) == ["201 Created"]


async def test_conditional_reference_with_no_or_several_matches_fails(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    nobody = f"Practitioner?identifier={NPI}|{unique('npi')}"
    response = await send(client, transaction(post(patient(value)), post(_encounter(nobody))))
    assert response.status_code == 412
    assert response.json()["issue"][0]["expression"][0] == "Bundle.entry[1]"
    assert await search_ids(client, f"Patient?identifier={MRN}|{value}") == []

    npi = unique("npi")
    for _ in range(2):
        await create(client, practitioner(npi))
    twins = f"Practitioner?identifier={NPI}|{npi}"
    response = await send(client, transaction(post(patient(value)), post(_encounter(twins))))
    assert response.status_code == 412
    assert "more than one" in response.json()["issue"][0]["diagnostics"]
    assert await search_ids(client, f"Patient?identifier={MRN}|{value}") == []


async def test_conditional_reference_to_a_conditional_create_of_the_same_bundle(
    client: httpx.AsyncClient,
) -> None:
    npi = unique("npi")
    condition = f"identifier={NPI}|{npi}"
    body = transaction(
        post(_encounter(f"Practitioner?{condition}")),
        post(practitioner(npi), urn(), if_none_exist=condition),
    )
    response = await send(client, body)
    assert response.status_code == 200, response.text
    encounter_entry, practitioner_entry = response.json()["entry"]
    encounter = (await client.get(f"/{reference_of(encounter_entry)}")).json()
    assert encounter["participant"][0]["individual"]["reference"] == reference_of(practitioner_entry)


async def test_conditional_create_that_matches_redirects_references(client: httpx.AsyncClient) -> None:
    npi = unique("npi")
    doctor = await create(client, practitioner(npi))
    doctor_url = urn()
    body = transaction(
        post(practitioner(npi), doctor_url, if_none_exist=f"identifier={NPI}|{npi}"),
        post(_encounter(doctor_url)),
    )
    response = await send(client, body)
    assert response.status_code == 200, response.text
    assert statuses(response) == ["200 OK", "201 Created"]
    assert reference_of(response.json()["entry"][0]) == f"Practitioner/{doctor['id']}"
    encounter = (await client.get(f"/{reference_of(response.json()['entry'][1])}")).json()
    assert encounter["participant"][0]["individual"]["reference"] == f"Practitioner/{doctor['id']}"
    assert len(await search_ids(client, f"Practitioner?identifier={NPI}|{npi}")) == 1


async def test_conditional_update_entries_create_then_update(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    patient_url = urn()
    condition = f"Patient?identifier={MRN}|{value}"

    def body(gender: str) -> dict[str, object]:
        return transaction(
            put(patient(value, gender=gender), condition, patient_url),
            post(_encounter(f"Practitioner?identifier={NPI}|{npi}", patient_url)),
        )

    npi = unique("npi")
    await create(client, practitioner(npi))
    created = await send(client, body("male"))
    assert created.status_code == 200, created.text
    assert statuses(created) == ["201 Created", "201 Created"]
    patient_ref = reference_of(created.json()["entry"][0])
    updated = await send(client, body("female"))
    assert statuses(updated) == ["200 OK", "201 Created"]
    assert reference_of(updated.json()["entry"][0]) == patient_ref
    encounter = (await client.get(f"/{reference_of(updated.json()['entry'][1])}")).json()
    assert encounter["subject"]["reference"] == patient_ref
    assert (await client.get(f"/{patient_ref}")).json()["gender"] == "female"


async def test_conditional_delete_entry(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    first, second = await create(client, patient(value)), await create(client, patient(value))
    response = await send(client, transaction(request("DELETE", f"Patient?identifier={MRN}|{value}")))
    assert statuses(response) == ["204 No Content"]
    for gone in (first, second):
        assert (await client.get(f"/Patient/{gone['id']}")).status_code == 410


async def test_if_match_in_entries(client: httpx.AsyncClient) -> None:
    existing = await create(client, patient())
    url = f"Patient/{existing['id']}"
    stale = await send(client, transaction(put({**existing, "gender": "male"}, url, if_match='W/"2"')))
    assert stale.status_code == 412
    current = await send(client, transaction(put({**existing, "gender": "male"}, url, if_match='W/"1"')))
    assert statuses(current) == ["200 OK"]
    assert current.json()["entry"][0]["response"]["etag"] == 'W/"2"'
    in_batch = await send(client, batch(request("DELETE", url, ifMatch='W/"1"')))
    assert statuses(in_batch) == ["412 Precondition Failed"]
    assert (await client.get(f"/{url}")).status_code == 200


async def test_racing_transactions_conditionally_create_one_resource(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    condition = f"identifier={MRN}|{value}"

    def body() -> dict[str, object]:
        patient_url = urn()
        return transaction(
            post(patient(value), patient_url, if_none_exist=condition),
            post({"resourceType": "Observation", "status": "final", "code": {"text": "race"},
                  "subject": {"reference": patient_url}}),
        )  # fmt: skip

    responses = await asyncio.gather(*(send(client, body()) for _ in range(10)))
    assert all(response.status_code == 200 for response in responses), [r.text for r in responses]
    first_statuses = sorted(statuses(response)[0] for response in responses)
    assert first_statuses == ["200 OK"] * 9 + ["201 Created"]
    ids = await search_ids(client, f"Patient?identifier={MRN}|{value}")
    assert len(ids) == 1
    for response in responses:
        observation = (await client.get(f"/{reference_of(response.json()['entry'][1])}")).json()
        assert observation["subject"]["reference"] == f"Patient/{ids[0]}"


async def test_conditional_update_entry_with_a_different_id_is_refused(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    existing = await create(client, patient(value))
    body = transaction(put({**patient(value), "id": "someone-else"}, f"Patient?identifier={MRN}|{value}"))
    response = await send(client, body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"][0] == "Bundle.entry[0]"
    assert "gender" not in (await client.get(f"/Patient/{existing['id']}")).json()
