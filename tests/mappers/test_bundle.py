"""The transaction Bundle of many records: urn:uuid links, conditional links by key, and the server
storing it so that reading back gives the same records."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from mappers import terms
from mappers.bundle import build_transaction, transaction_bundle
from mappers.common import JsonDict, MappingError
from mappers.patient import PatientRecord
from tests.mappers.readers import FROM_FHIR
from tests.mappers.samples import FULL, MINIMAL
from tests.support import TEST_BASE

MAIN_TYPES = {"Practitioner", "Patient", "Appointment", "Encounter", "CarePlan", "Procedure", "Invoice"}


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


def test_every_entry_is_a_create_linked_by_urn_uuid() -> None:
    bundle = transaction_bundle(FULL.values())
    assert bundle["type"] == "transaction"
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls)) == 24
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert "id" not in resource
        assert entry["request"] == {"method": "POST", "url": resource["resourceType"]}
        for reference in _references(resource):
            assert reference in full_urls, reference


def test_entries_remember_the_record_they_come_from() -> None:
    records = [FULL["doctor"], FULL["patient"]]
    planned = build_transaction(records)
    types = [entry["resource"]["resourceType"] for entry in planned.bundle["entry"]]
    assert list(zip(types, planned.origins, strict=True)) == [
        ("Practitioner", 0), ("PractitionerRole", 0),
        ("Patient", 1), ("AllergyIntolerance", 1), ("AllergyIntolerance", 1), ("Condition", 1),
    ]  # fmt: skip


def test_a_record_outside_the_bundle_is_found_by_its_key() -> None:
    bundle = transaction_bundle([MINIMAL["appointment"].model_copy(update={"patient": "MRN 7,a|b$c\\d"})])
    actors = [item["actor"] for item in bundle["entry"][0]["resource"]["participant"]]
    assert actors[0]["reference"] == (
        f"Patient?identifier={terms.SID_MRN}|MRN%207%5C%2Ca%5C%7Cb%5C%24c%5C%5Cd"
    )
    assert actors[0]["identifier"] == {"system": terms.SID_MRN, "value": "MRN 7,a|b$c\\d"}
    assert actors[1]["reference"] == f"Practitioner?identifier={terms.SID_STAFF}|D"


def test_a_key_used_twice_is_refused() -> None:
    twin = PatientRecord(key="P", given_name="Other", gender="male")
    with pytest.raises(MappingError, match=r"same Patient: identifier .*sid/mrn\|P"):
        build_transaction([MINIMAL["patient"], twin])


async def _all(client: httpx.AsyncClient, resource_type: str) -> list[JsonDict]:
    response = await client.get(f"/{resource_type}", params={"_count": "100"})
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _keyed_by(resource: JsonDict, key: str) -> bool:
    return any(item.get("value") == key for item in resource.get("identifier", []))


async def test_the_server_stores_the_bundle_and_reading_back_gives_the_records(
    client: httpx.AsyncClient,
) -> None:
    kinds = [kind for kind in FULL if kind not in {"document", "image"}]  # bytes: the importer's tests
    bundle = transaction_bundle(FULL[kind] for kind in kinds)
    response = await client.post(
        TEST_BASE, content=orjson.dumps(bundle), headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 200, response.text
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    assert statuses and all(status.startswith("201") for status in statuses)

    stored: list[JsonDict] = []
    for resource_type in sorted({entry["resource"]["resourceType"] for entry in bundle["entry"]}):
        stored += await _all(client, resource_type)
    assert len(stored) == len(bundle["entry"])
    text = orjson.dumps(stored).decode()
    assert "urn:uuid:" not in text and "?identifier=" not in text
    for kind in kinds:
        record = FULL[kind]
        mine = [
            item for item in stored if item["resourceType"] not in MAIN_TYPES or _keyed_by(item, record.key)
        ]
        assert FROM_FHIR[kind](mine) == record, kind
