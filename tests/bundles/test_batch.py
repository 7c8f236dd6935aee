"""Batches: each entry succeeds or fails on its own."""

from __future__ import annotations

import httpx

from tests.bundles.builders import (
    MRN,
    batch,
    create,
    patient,
    post,
    put,
    reference_of,
    request,
    search_ids,
    send,
    statuses,
    urn,
)
from tests.support import unique


async def test_a_failing_entry_does_not_stop_the_others(client: httpx.AsyncClient) -> None:
    first, last = unique("mrn"), unique("mrn")
    own_id = unique("id")
    body = batch(
        post(patient(first)),
        post({"resourceType": "Patient", "birthDate": "not-a-date"}),
        request("GET", "Patient/no-such-id"),
        put({**patient(last), "id": own_id}, f"Patient/{own_id}"),
    )
    response = await send(client, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "batch-response"
    assert statuses(response) == ["201 Created", "400 Bad Request", "404 Not Found", "201 Created"]
    invalid = result["entry"][1]["response"]["outcome"]
    assert invalid["resourceType"] == "OperationOutcome"
    assert invalid["issue"][0]["expression"][0] == "Bundle.entry[1]"
    assert result["entry"][2]["response"]["outcome"]["issue"][0]["code"] == "not-found"
    assert len(await search_ids(client, f"Patient?identifier={MRN}|{first}")) == 1
    assert await search_ids(client, f"Patient?identifier={MRN}|{last}") == [own_id]


async def test_batch_conditional_create_is_idempotent(client: httpx.AsyncClient) -> None:
    value = unique("mrn")
    body = batch(post(patient(value), if_none_exist=f"identifier={MRN}|{value}"))
    first = await send(client, body)
    again = await send(client, body)
    assert statuses(first) == ["201 Created"]
    assert statuses(again) == ["200 OK"]
    assert reference_of(first.json()["entry"][0]) == reference_of(again.json()["entry"][0])
    assert len(await search_ids(client, f"Patient?identifier={MRN}|{value}")) == 1


async def test_batch_entries_may_not_point_at_each_other(client: httpx.AsyncClient) -> None:
    patient_url = urn()
    body = batch(
        post(patient(), patient_url),
        post({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "subject": {"reference": patient_url}}),
    )  # fmt: skip
    response = await send(client, body)
    assert statuses(response) == ["201 Created", "400 Bad Request"]
    assert patient_url in response.json()["entry"][1]["response"]["outcome"]["issue"][0]["diagnostics"]


async def test_batch_reads_and_deletes(client: httpx.AsyncClient) -> None:
    existing = await create(client, patient())
    url = f"Patient/{existing['id']}"
    body = batch(request("GET", url), request("DELETE", url), request("GET", url))
    response = await send(client, body)
    # Entries run in the transaction order (DELETE before GET), answered in request order.
    assert statuses(response) == ["410 Gone", "204 No Content", "410 Gone"]
    assert response.json()["entry"][1]["response"]["etag"] == 'W/"2"'
