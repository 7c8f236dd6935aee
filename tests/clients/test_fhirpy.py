"""fhirpy (PyPI), unmodified: create-or-get by conditional create, merge-patch ``patch()``,
``count()`` (``_totalMethod``), paging with totals, conditional update, delete."""

from __future__ import annotations

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from tests.support import unique

MRN = "http://clinic.example.org/fhir/sid/mrn"


@pytest.fixture(scope="module")
def fhir(fhir_base: str, token: str) -> SyncFHIRClient:
    return SyncFHIRClient(fhir_base, authorization=f"Bearer {token}")


def test_create_or_get_makes_no_duplicates(fhir: SyncFHIRClient) -> None:
    mrn = unique("MRN")
    patients = fhir.resources("Patient").search(identifier=f"{MRN}|{mrn}")
    new = fhir.resource(
        "Patient", identifier=[{"system": MRN, "value": mrn}], name=[{"family": "Okafor"}], gender="female"
    )
    created, was_created = patients.get_or_create(new)
    again, again_created = patients.get_or_create(new)
    assert was_created is True and again_created is False
    assert again.id == created.id
    assert patients.count() == 1
    assert fhir.resources("Patient").search(identifier=f"{MRN}|{mrn}").get().id == created.id


def test_patch_sends_a_merge_patch(fhir: SyncFHIRClient) -> None:
    patient = fhir.resource("Patient", name=[{"family": unique("Patch")}], active=True, gender="female")
    patient.save()
    patched = patient.patch(active=False, birthDate="1980-02-03")
    assert patched["active"] is False and patched["birthDate"] == "1980-02-03"
    stored = fhir.reference("Patient", patient.id).to_resource()
    assert stored["active"] is False and stored["gender"] == "female"  # untouched elements stay
    assert stored["meta"]["versionId"] == "2"
    fhir.patch("Patient", patient.id, gender=None)  # null removes an element (RFC 7386)
    assert "gender" not in fhir.reference("Patient", patient.id).to_resource()


def test_count_and_totals_on_multi_page_searches(fhir: SyncFHIRClient) -> None:
    family = unique("Count")
    for index in range(7):
        fhir.resource("Patient", name=[{"family": family, "given": [f"G{index}"]}]).save()
    search = fhir.resources("Patient").search(family=family)
    assert search.count() == 7  # _count=0&_totalMethod=count
    first_page = search.limit(3).fetch_raw()
    assert first_page["total"] == 7 and len(first_page["entry"]) == 3
    assert len(search.limit(3).fetch_all()) == 7  # follows the next links
    assert fhir.resources("Patient").search(family=family, gender="male").count() == 0


def test_conditional_update_and_delete(fhir: SyncFHIRClient) -> None:
    mrn = unique("MRN")
    patients = fhir.resources("Patient").search(identifier=f"{MRN}|{mrn}")
    body = fhir.resource(
        "Patient", identifier=[{"system": MRN, "value": mrn}], name=[{"family": "Ng"}], gender="male"
    )
    created, was_created = patients.update(body)
    assert was_created is True
    body["name"] = [{"family": "Ng-Smith"}]
    updated, updated_created = patients.update(body)
    assert updated_created is False and updated.id == created.id
    assert patients.get()["name"][0]["family"] == "Ng-Smith"
    fhir.delete("Patient", created.id)
    with pytest.raises(ResourceNotFound):
        patients.get()
