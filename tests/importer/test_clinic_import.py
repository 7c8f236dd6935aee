"""``fhir-server import-clinic``: the example export in one transaction, read back through the API;
files refused before anything is written; transactions refused as a whole, naming the record."""

from __future__ import annotations

import asyncio
import base64
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.cli import main
from fhir_server.context import Principal, RequestContext
from fhir_server.importer.clinic import (
    ClinicExport,
    ClinicImportError,
    ClinicImportReport,
    LayoutError,
    import_clinic,
    load_clinic_file,
)
from fhir_server.settings import Settings, get_settings
from fhir_server.store import documents as f
from mappers import appointment, doctor, finance, medical_record, patient, procedure, staff
from mappers import treatment_plan as plan
from mappers.bundle import ClinicRecord
from mappers.common import JsonDict
from mappers.documents import ClinicalDocument, PatientImage, document_from_fhir, image_from_fhir
from tests.support import TEST_BASE, make_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLE = FIXTURES / "clinic-import-example.json"
EXPECTED = Counter(
    Practitioner=4, PractitionerRole=5, Patient=3, AllergyIntolerance=2, Condition=3, Appointment=3,
    Encounter=2, Observation=3, MedicationRequest=1, CarePlan=2, Procedure=2, Invoice=5,
    DocumentReference=2, Media=1,
)  # fmt: skip
_LITERAL = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
_SECTIONS_READERS: dict[str, Any] = {
    "doctors": doctor.from_fhir,
    "staff": staff.from_fhir,
    "patients": patient.from_fhir,
    "appointments": appointment.from_fhir,
    "medical_records": medical_record.from_fhir,
    "treatment_plans": plan.from_fhir,
    "procedures": procedure.from_fhir,
    "expenses": finance.from_fhir,
    "incomes": finance.from_fhir,
}
_MAIN_TYPES = {
    "Practitioner", "Patient", "Appointment", "Encounter", "CarePlan", "Procedure", "Invoice",
    "DocumentReference", "Media",
}  # fmt: skip


def _ctx() -> RequestContext:
    return RequestContext(principal=Principal.system(), base_url=TEST_BASE, request_id="test")


async def _import(app: FastAPI, export: ClinicExport) -> ClinicImportReport:
    return await import_clinic(pipeline=app.state.pipeline, ctx=_ctx(), export=export)


# Published by the server itself at start-up, not by the import.
SHIPPED_TYPES = frozenset(
    {"CodeSystem", "SearchParameter", "StructureDefinition", "ValueSet", "SubscriptionTopic"}
)
# What the audit trail writes about the import (tests/audit checks those): not the import's records.
AUDIT_TYPES = frozenset({"AuditEvent", "Provenance"})


async def _stored(db: AsyncDatabase[dict[str, Any]]) -> list[JsonDict]:
    """Every current resource the import wrote, Binaries included."""
    prefix = f.resource_collection_name("")
    found: list[JsonDict] = []
    for name in sorted(await db.list_collection_names()):
        if name.startswith(prefix) and name[len(prefix) :] not in SHIPPED_TYPES | AUDIT_TYPES:
            async for doc in db[name].find({f.DELETED: {"$ne": True}}, {f.RESOURCE: 1}):
                found.append(doc[f.RESOURCE])
    return found


async def _search(client: httpx.AsyncClient, resource_type: str, **params: str) -> list[JsonDict]:
    response = await client.get(f"/{resource_type}", params={"_count": "200", **params})
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "reference" and isinstance(item, str):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _of_record(resources: list[JsonDict], record: ClinicRecord) -> list[JsonDict]:
    """The record's main resource (by its key) and every part-like resource (the readers pick theirs)."""
    return [
        item
        for item in resources
        if item["resourceType"] not in _MAIN_TYPES
        or any(ident.get("value") == record.key for ident in item.get("identifier", []))
    ]


# ----- the example file ----------------------------------------------------------------------------


async def test_the_example_file_is_imported_whole_and_reads_back_as_the_same_records(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    export = load_clinic_file(EXAMPLE, currency="USD")
    report = await _import(app, export)
    assert report.created == EXPECTED
    assert report.records["patients"] == 3 and report.records["documents"] == 2

    from_api: list[JsonDict] = []
    for resource_type, count in EXPECTED.items():
        found = await _search(client, resource_type)
        assert len(found) == count, resource_type
        from_api += found

    stored = await _stored(app.state.db)
    assert Counter(item["resourceType"] for item in stored) == EXPECTED + Counter(Binary=3)
    text = orjson.dumps(stored).decode()
    assert "urn:uuid:" not in text and "?identifier=" not in text
    ids = {(item["resourceType"], item["id"]) for item in stored}
    for item in stored:
        for reference in _references(item):
            match = _LITERAL.match(reference)
            assert match is not None and (match[1], match[2]) in ids, reference

    validator = app.state.services.validator
    for item in from_api:
        claimed = item.get("meta", {}).get("profile", [])
        errors = [issue for issue in validator.validate(item, profiles=claimed) if issue.severity == "error"]
        assert errors == [], (item["resourceType"], errors)

    for section, reader in _SECTIONS_READERS.items():
        for record in getattr(export, section):
            assert reader(_of_record(from_api, record)) == record, record.key


async def test_documents_and_images_keep_their_bytes_in_binaries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    export = load_clinic_file(EXAMPLE, currency="USD")
    await _import(app, export)
    documents = await _search(client, "DocumentReference")
    media = await _search(client, "Media")
    (owner,) = await _search(
        client, "Patient", identifier="http://clinic.example.org/fhir/sid/mrn|MRN-000123"
    )
    records: list[ClinicalDocument | PatientImage] = [*export.documents, *export.images]
    for record in records:
        read_back: ClinicalDocument | PatientImage
        if isinstance(record, PatientImage):
            read_back = image_from_fhir(_of_record(media, record))
        else:
            read_back = document_from_fhir(_of_record(documents, record))
        assert read_back.data is None and read_back.url is not None and read_back.url.startswith("Binary/")
        # The file's entries are subclasses of the records (they also load files): compare the fields.
        assert (
            read_back.model_copy(update={"data": record.data, "url": None}).model_dump()
            == record.model_dump()
        )
        raw = await client.get(f"/{read_back.url}")
        assert raw.status_code == 200
        assert raw.content == record.data
    (lab_report,) = [item for item in documents if item["identifier"][0]["value"] == "DOC-3001"]
    assert lab_report["subject"]["reference"] == f"Patient/{owner['id']}"
    assert lab_report["content"][0]["attachment"]["title"] == "lab-report.pdf"
    assert lab_report["content"][0]["attachment"]["size"] == len(
        (FIXTURES / "clinic-import/lab-report.pdf").read_bytes()
    )


async def test_a_later_file_links_to_what_an_earlier_import_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _import(app, load_clinic_file(EXAMPLE, currency="USD"))
    later = ClinicExport.model_validate(
        {
            "appointments": [
                {"key": "APT-2001", "patient": "MRN-000124", "doctor": "STAFF-002",
                 "start": "2031-12-10T09:00:00Z", "end": "2031-12-10T09:20:00Z"},
            ],
            "treatment_plans": [
                {"key": "PLAN-7003", "patient": "MRN-000123", "visit": "VISIT-5001",
                 "addresses_diagnosis": True, "diagnosis_summary": "Hypertension: second line"},
            ],
        }
    )  # fmt: skip
    report = await _import(app, later)
    assert report.created == Counter(Appointment=1, CarePlan=1)
    (jurgen,) = await _search(
        client, "Patient", identifier="http://clinic.example.org/fhir/sid/mrn|MRN-000124"
    )
    (booked,) = await _search(
        client, "Appointment", identifier="http://clinic.example.org/fhir/sid/appointment|APT-2001"
    )
    assert booked["participant"][0]["actor"]["reference"] == f"Patient/{jurgen['id']}"
    (diagnosis,) = await _search(client, "Condition", category="encounter-diagnosis")
    (second,) = await _search(
        client, "CarePlan", identifier="http://clinic.example.org/fhir/sid/treatment-plan|PLAN-7003"
    )
    assert second["addresses"][0]["reference"] == f"Condition/{diagnosis['id']}"


# ----- refusals ------------------------------------------------------------------------------------

_PATIENT = {"key": "MRN-1", "family_name": "Example", "gender": "female"}
_DOCTOR = {"key": "STAFF-1", "family_name": "Haddad", "specialties": ["cardiology"]}


def _appointment(key: str, patient_key: str, start: str = "2031-12-01T09:00:00Z") -> dict[str, str]:
    end = start.replace("T09:00", "T09:30")
    return {"key": key, "patient": patient_key, "doctor": "STAFF-1", "start": start, "end": end}


@pytest.mark.parametrize(
    ("content", "place", "status", "message"),
    [
        ({"appointments": [_appointment("A-1", "MRN-404")]}, "appointments[0]", 412, "matches no resource"),
        (
            {"appointments": [_appointment("A-1", "MRN-1"), _appointment("A-2", "MRN-1")]},
            "appointments[1]", 409, "already booked",
        ),
        (
            {"expenses": [{"key": "E-1", "category": "rent", "reason": "Rent", "amount": 10,
                           "currency": "EUR", "date": "2026-11-01"}]},
            "expenses[0]", 422, "USD",
        ),
    ],
)  # fmt: skip
async def test_a_refused_transaction_writes_nothing_and_names_the_record(
    app: FastAPI, content: dict[str, Any], place: str, status: int, message: str
) -> None:
    export = ClinicExport.model_validate({"patients": [_PATIENT], "doctors": [_DOCTOR], **content})
    with pytest.raises(ClinicImportError) as raised:
        await _import(app, export)
    assert raised.value.place == place
    assert raised.value.status == status
    assert message in str(raised.value)
    assert await _stored(app.state.db) == []


def _write(tmp_path: Path, content: dict[str, Any]) -> Path:
    path = tmp_path / "clinic.json"
    path.write_bytes(orjson.dumps(content))
    return path


def _problems(path: Path, currency: str | None = "USD") -> list[str]:
    with pytest.raises(LayoutError) as raised:
        load_clinic_file(path, currency=currency)
    return raised.value.problems


def test_layout_problems_are_named_by_their_place_in_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "patients": [
                {"key": "MRN-1", "family_name": "A"},
                {"key": "MRN-2", "family_name": "B", "gender": "x"},
            ],
            "appointments": [{**_appointment("A-1", "MRN-1"), "end": "2031-12-01T08:00:00Z"}],
            "expenses": [
                {"key": "E-1", "category": "rent", "reason": "r", "amount": "-1", "date": "2026-11-01"}
            ],
            "documents": [
                {"key": "D-1", "patient": "MRN-1", "category": "other", "date": "2026-11-01T00:00:00Z",
                 "path": "missing.pdf"}
            ],
            "images": [
                {"key": "I-1", "patient": "MRN-1", "content_type": "image/png", "data_base64": "%%%"}
            ],
            "pets": [],
        },
    )  # fmt: skip
    problems = _problems(path)
    assert "patients[0].gender: Field required" in problems
    assert any(p.startswith("patients[1].gender: Input should be 'male'") for p in problems)
    assert any(p.startswith("appointments[0]: Value error, end must be after start") for p in problems)
    assert any(p.startswith("expenses[0].amount: Value error, must not be negative") for p in problems)
    assert any(p.startswith("documents[0]: Value error, cannot read missing.pdf") for p in problems)
    assert any(p.startswith("images[0]: Value error, data_base64 is not valid base64") for p in problems)
    assert any(p.startswith("pets: Extra inputs are not permitted") for p in problems)


def test_keys_used_twice_and_plans_treating_a_missing_diagnosis_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "doctors": [_DOCTOR],
            "staff": [{"key": "STAFF-1", "family_name": "Ndlovu", "roles": ["nurse"]}],
            "patients": [_PATIENT],
            "medical_records": [{"key": "V-1", "patient": "MRN-1", "doctor": "STAFF-1",
                                 "start": "2031-11-01T09:00:00Z"}],
            "treatment_plans": [{"key": "T-1", "patient": "MRN-1", "visit": "V-1",
                                 "addresses_diagnosis": True, "diagnosis_summary": "s"}],
        },
    )  # fmt: skip
    assert _problems(path) == [
        "staff[0].key: this staff number is already used by doctors[0]",
        "treatment_plans[0].addresses_diagnosis: the visit it names has no diagnosis",
    ]


def test_the_currency_comes_from_the_file_or_else_from_the_server(tmp_path: Path) -> None:
    expense = {"key": "E-1", "category": "rent", "reason": "r", "amount": "0.1", "date": "2026-11-01"}
    from_server = load_clinic_file(_write(tmp_path, {"expenses": [expense]}), currency="CHF")
    assert from_server.expenses[0].currency == "CHF"
    assert str(from_server.expenses[0].amount) == "0.10"
    from_file = load_clinic_file(_write(tmp_path, {"currency": "EUR", "expenses": [expense]}), currency="CHF")
    assert from_file.expenses[0].currency == "EUR"
    own = load_clinic_file(
        _write(tmp_path, {"currency": "EUR", "expenses": [{**expense, "currency": "GBP"}]})
    )
    assert own.expenses[0].currency == "GBP"


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clinic.json"
    path.write_text('{"patients": [', encoding="utf-8")
    (problem,) = _problems(path)
    assert problem.startswith("not valid JSON")
    (missing,) = _problems(tmp_path / "absent.json")
    assert missing.startswith("cannot read the file")


def test_inline_and_file_content_both_load(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "x-ray.png").write_bytes((FIXTURES / "clinic-import/wound.png").read_bytes())
    export = load_clinic_file(
        _write(
            tmp_path,
            {"images": [
                {"key": "I-1", "patient": "MRN-1", "path": "scans/x-ray.png"},
                {"key": "I-2", "patient": "MRN-1", "content_type": "image/jpeg",
                 "data_base64": base64.b64encode(b"\xff\xd8\xff\xe0").decode()},
                {"key": "I-3", "patient": "MRN-1", "content_type": "image/jpeg", "url": "Binary/1"},
            ]},
        )
    )  # fmt: skip
    first, second, third = export.images
    assert (first.content_type, first.title, first.data) == (
        "image/png",
        "x-ray.png",
        (tmp_path / "scans" / "x-ray.png").read_bytes(),
    )
    assert second.data == b"\xff\xd8\xff\xe0" and second.title is None
    assert third.url == "Binary/1" and third.data is None


# ----- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_settings(monkeypatch: pytest.MonkeyPatch, mongo_uri: str, tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings(mongo_uri, tmp_path / "data")
    monkeypatch.setenv("FHIR_MONGODB_URI", str(settings.mongodb_uri))
    monkeypatch.setenv("FHIR_DATABASE_NAME", settings.database_name)
    monkeypatch.setenv("FHIR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FHIR_BASE_URL", settings.base_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


@pytest_asyncio.fixture(loop_scope="session")
async def cli_database(
    mongo_uri: str, cli_settings: Settings
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[cli_settings.database_name]
    finally:
        await client.drop_database(cli_settings.database_name)
        await client.close()


async def test_the_command_imports_the_example_and_prints_a_summary(
    cli_database: AsyncDatabase[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    status = await asyncio.to_thread(main, ["import-clinic", str(EXAMPLE)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "38 resources" in captured.out
    assert "3 patients" in captured.out and "Invoice" in captured.out
    stored = Counter(item["resourceType"] for item in await _stored(cli_database))
    assert stored == EXPECTED + Counter(Binary=3)


async def test_the_command_refuses_a_broken_file_with_a_clear_message_and_writes_nothing(
    tmp_path: Path, cli_database: AsyncDatabase[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, {"patients": [_PATIENT, {"key": "MRN-2", "given_name": "B", "gender": "female",
                                                     "birth_date": "yesterday"}]})  # fmt: skip
    status = await asyncio.to_thread(main, ["import-clinic", str(path)])
    captured = capsys.readouterr()
    assert status == 2
    assert f"{path} was not imported (nothing written)" in captured.err
    assert f"{path}: patients[1].birth_date: Input should be a valid date" in captured.err
    assert await _stored(cli_database) == []


async def test_the_command_reports_a_refused_transaction_and_writes_nothing(
    tmp_path: Path, cli_database: AsyncDatabase[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, {"patients": [_PATIENT], "doctors": [_DOCTOR],
                             "appointments": [_appointment("A-1", "MRN-404")]})  # fmt: skip
    status = await asyncio.to_thread(main, ["import-clinic", str(path)])
    captured = capsys.readouterr()
    assert status == 1
    assert f"{path}: appointments[0]: [412]" in captured.err
    assert await _stored(cli_database) == []
