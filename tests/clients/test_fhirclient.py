"""fhirclient (SMART's Python client, PyPI), unmodified: capability statement, CRUD through its
models, searches whose every page carries the total."""

from __future__ import annotations

from typing import Any

import pytest
from fhirclient import client as smart
from fhirclient.models.bundle import Bundle
from fhirclient.models.humanname import HumanName
from fhirclient.models.patient import Patient

from tests.support import unique


@pytest.fixture(scope="module")
def server_handle(fhir_base: str, token: str) -> Any:
    client = smart.FHIRClient(settings={"app_id": "client-tests", "api_base": fhir_base})
    client.server.session.headers["Authorization"] = f"Bearer {token}"
    return client.server


def test_capability_statement(server_handle: Any) -> None:
    server_handle.get_capability(force=True)
    assert server_handle.capabilityStatement.fhirVersion == "4.3.0"


def test_crud_and_paged_search_with_totals(server_handle: Any) -> None:
    family = unique("Smart")
    ids = []
    for index in range(5):
        patient = Patient({"name": [{"family": family, "given": [f"G{index}"]}]})
        created = patient.create(server_handle)
        assert created is not None
        ids.append(created["id"])
    read = Patient.read(ids[0], server_handle)
    assert read.name[0].family == family
    read.name = [HumanName({"family": family, "given": ["Renamed"]})]
    read.update(server_handle)
    assert Patient.read(ids[0], server_handle).name[0].given == ["Renamed"]

    search = Patient.where(struct={"family": family, "_count": "2"})
    pages: list[Bundle] = list(search.perform_iter(server_handle))
    assert [page.total for page in pages] == [5, 5, 5]  # every page says how many there are
    assert [len(page.entry) for page in pages] == [2, 2, 1]
    found = [resource.id for resource in search.perform_resources_iter(server_handle)]
    assert sorted(found) == sorted(ids)

    Patient.read(ids[1], server_handle).delete()
    assert next(Patient.where(struct={"family": family}).perform_iter(server_handle)).total == 4
