"""find_ids (conditional writes, inside a transaction) and custom SearchParameters with $reindex."""

from __future__ import annotations

from functools import partial

import pytest

from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.search.indexer import SearchIndexer
from fhir_server.search.indexes import index_models
from fhir_server.store.repository import ResourceRepository
from fhir_server.store.schema import Schema
from tests.search.conftest import BASE, Store


async def test_find_ids(store: Store) -> None:
    await store.put(
        {"resourceType": "Patient", "id": "p1", "identifier": [{"system": "urn:mrn", "value": "1"}]},
        {"resourceType": "Patient", "id": "p2", "identifier": [{"system": "urn:mrn", "value": "2"}]},
    )
    service = store.service
    assert await service.find_ids(resource_type="Patient", params=[("identifier", "urn:mrn|1")], limit=2) == [
        "p1"
    ]
    assert sorted(
        await service.find_ids(resource_type="Patient", params=[("identifier", "urn:mrn|")], limit=5)
    ) == ["p1", "p2"]
    assert len(await service.find_ids(resource_type="Patient", params=[], limit=1)) == 1
    with pytest.raises(BadRequest):
        await service.find_ids(resource_type="Patient", params=[("nonsense", "1")], limit=2)
    with pytest.raises(BadRequest):
        await service.find_ids(resource_type="Patient", params=[("_count", "1")], limit=2)


async def test_find_ids_inside_a_transaction(store: Store) -> None:
    await store.put({"resourceType": "Patient", "id": "p1", "gender": "male"})
    client = store.db.client
    async with client.start_session() as session, await session.start_transaction():
        found = await store.service.find_ids(
            resource_type="Patient", params=[("gender", "male")], limit=2, session=session
        )
    assert found == ["p1"]


EYE_COLOR = {
    "resourceType": "SearchParameter",
    "url": "http://clinic.example/SearchParameter/eye-color",
    "name": "eye-color",
    "status": "active",
    "code": "eye-color",
    "base": ["Patient"],
    "type": "token",
    "expression": "Patient.extension('http://clinic.example/eye-color').value",
}


def with_eyes(pid: str, color: str) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "extension": [{"url": "http://clinic.example/eye-color", "valueCode": color}],
    }


async def test_custom_parameter_and_reindex(store: Store) -> None:
    registry = type(store.registry).create(profile_dirs=[])
    indexer = SearchIndexer(registry, base_url=BASE)
    store.registry, store.indexer = registry, indexer
    store.service.registry = registry
    await store.put(with_eyes("old", "blue"))
    with pytest.raises(BadRequest):
        await store.search("Patient", "eye-color=blue")
    registry.add_search_parameter(EYE_COLOR)
    assert await store.ids("Patient", "eye-color=blue") == []  # stored before the parameter existed
    await store.put(with_eyes("new", "blue"))  # indexed on write
    assert await store.ids("Patient", "eye-color=blue") == ["new"]
    repository = ResourceRepository(
        db=store.db, indexer=indexer, schema=Schema(store.db, partial(index_models, registry)), base_url=BASE
    )
    assert await repository.reindex(resource_type="Patient", batch_size=1) == 1  # "new" was up to date
    assert await store.ids("Patient", "eye-color=blue") == ["new", "old"]
    assert await store.ids("Patient", "eye-color:not=blue") == []


@pytest.mark.parametrize(
    "change",
    [
        {"code": "bad code"},
        {"type": "special"},
        {"base": ["Nonsense"]},
        {"expression": None},
        {"type": "composite"},
    ],
)
def test_invalid_custom_parameters(store: Store, change: dict[str, object]) -> None:
    resource = {**EYE_COLOR, **change}
    with pytest.raises(Unprocessable):
        store.registry.create(profile_dirs=[]).add_search_parameter(resource)
