"""Building batch/transaction Bundles and posting them to the base URL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import TEST_BASE, unique

FHIR_JSON = {"Content-Type": "application/fhir+json"}
MRN = "http://clinic.example.org/mrn"
NPI = "http://hl7.org/fhir/sid/us-npi"

Entry = dict[str, Any]
Resource = dict[str, Any]


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def bundle(kind: str, *entries: Entry) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def transaction(*entries: Entry) -> dict[str, Any]:
    return bundle("transaction", *entries)


def batch(*entries: Entry) -> dict[str, Any]:
    return bundle("batch", *entries)


def post(resource: Resource, full_url: str | None = None, if_none_exist: str | None = None) -> Entry:
    request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist is not None:
        request["ifNoneExist"] = if_none_exist
    entry: Entry = {"resource": resource, "request": request}
    if full_url is not None:
        entry["fullUrl"] = full_url
    return entry


def put(resource: Resource, url: str, full_url: str | None = None, if_match: str | None = None) -> Entry:
    request: dict[str, Any] = {"method": "PUT", "url": url}
    if if_match is not None:
        request["ifMatch"] = if_match
    entry: Entry = {"resource": resource, "request": request}
    if full_url is not None:
        entry["fullUrl"] = full_url
    return entry


def request(method: str, url: str, **extra: str) -> Entry:
    return {"request": {"method": method, "url": url, **extra}}


def patient(value: str | None = None, **extra: Any) -> Resource:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN, "value": value or unique("mrn")}],
        **extra,
    }


def practitioner(npi: str) -> Resource:
    return {"resourceType": "Practitioner", "identifier": [{"system": NPI, "value": npi}]}


def statuses(response: httpx.Response) -> list[str]:
    return [entry["response"]["status"] for entry in response.json()["entry"]]


def reference_of(entry: dict[str, Any]) -> str:
    """``Type/id`` of a response entry's location."""
    location: str = entry["response"]["location"]
    return "/".join(location.split("/")[:2])


async def send(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post(TEST_BASE, json=body, headers={**FHIR_JSON, **headers})


async def create(client: httpx.AsyncClient, resource: Resource) -> Resource:
    response = await client.post(f"/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    created: Resource = response.json()
    return created


async def search_ids(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get(f"/{query}")
    assert response.status_code == 200, response.text
    return [entry["resource"]["id"] for entry in response.json().get("entry", [])]
