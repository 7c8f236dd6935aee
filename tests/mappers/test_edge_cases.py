"""Edge cases: absent optional fields, exact money, unicode, and what records and readers refuse."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from mappers import appointment, finance, medical_record, patient, staff
from mappers.bundle import to_fhir
from mappers.common import Coded, MappingError
from mappers.documents import ClinicalDocument, PatientImage
from mappers.finance import Expense
from mappers.medical_record import Finding
from mappers.procedure import ProcedureRecord
from tests.mappers.readers import over_the_wire
from tests.mappers.samples import FULL, MINIMAL, at


def _expense(amount: Any) -> Expense:
    return Expense(key="E", category="rent", amount=amount, currency="USD", date=date(2026, 1, 1), reason="x")


def test_optional_fields_absent_leave_no_empty_or_null_elements() -> None:
    for record in MINIMAL.values():
        for resource in to_fhir(record):
            text = orjson.dumps(resource).decode()
            assert "null" not in text and "[]" not in text and "{}" not in text
    (patient_resource,) = to_fhir(MINIMAL["patient"])
    assert set(patient_resource) == {"resourceType", "id", "meta", "identifier", "active", "name", "gender"}


@pytest.mark.parametrize(
    ("given", "kept", "in_json"),
    [
        (Decimal("0.10"), "0.10", b"0.1"),
        (Decimal("0.1"), "0.10", b"0.1"),
        ("0.10", "0.10", b"0.1"),
        (0.1, "0.10", b"0.1"),
        (Decimal("12"), "12.00", b"12"),
        (Decimal("0.125"), "0.125", b"0.125"),
        (Decimal("123456789012.99"), "123456789012.99", b"123456789012.99"),
    ],
)
def test_money_is_exact_and_keeps_cents(given: Any, kept: str, in_json: bytes) -> None:
    expense = _expense(given)
    assert str(expense.amount) == kept
    (invoice,) = to_fhir(expense)
    assert orjson.dumps(invoice["totalGross"]["value"]) == in_json
    back = finance.expense_from_fhir(over_the_wire([invoice]))
    assert str(back.amount) == kept


@pytest.mark.parametrize("amount", [Decimal("-0.01"), Decimal("1234567890123.456"), Decimal("NaN"), "ten"])
def test_money_that_cannot_be_kept_exactly_or_is_negative_is_refused(amount: Any) -> None:
    with pytest.raises(ValidationError):
        _expense(amount)


def test_a_measured_value_keeps_its_number() -> None:
    finding = Finding(code=Coded(text="Creatinine"), quantity=Decimal("0.10"), unit="mg/dL")
    record = MINIMAL["medical_record"].model_copy(update={"findings": (finding,)})
    back = medical_record.from_fhir(over_the_wire(to_fhir(record)))
    assert back.findings[0].quantity == Decimal("0.10")  # the same number (JSON keeps no trailing zero)


def test_unicode_names_survive_json() -> None:
    record = patient.PatientRecord(
        key="MRN-ü-1", given_name="美咲 Zoë", family_name="Müller-Łukasiewicz ﷺ", gender="female"
    )
    resources = to_fhir(record)
    assert resources[0]["name"] == [{"family": "Müller-Łukasiewicz ﷺ", "given": ["美咲 Zoë"]}]
    assert patient.from_fhir(over_the_wire(resources)) == record


def test_text_is_stripped_and_empty_text_refused() -> None:
    member = staff.StaffMember(key=" S-1 ", given_name="  Ann ", roles=("lab",))
    assert (member.key, member.given_name) == ("S-1", "Ann")
    with pytest.raises(ValidationError):
        staff.StaffMember(key="S-1", given_name="   ", roles=("lab",))


def test_a_coded_value_may_be_plain_text_but_a_code_needs_its_system() -> None:
    assert Coded.model_validate("Asthma") == Coded(text="Asthma")
    with pytest.raises(ValidationError, match="code and system go together"):
        Coded(text="Asthma", code="J45")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: patient.PatientRecord(key="P", gender="male"), "given_name or a family_name"),
        (lambda: staff.StaffMember(key="S", family_name="X", roles=("lab", "lab")), "each role"),
        (lambda: staff.StaffMember(key="S", family_name="X", roles=("doctor",)), "roles"),
        (lambda: staff.StaffMember(key="S", family_name="X", roles=()), "roles"),
        (
            lambda: appointment.AppointmentRequest(
                key="A", patient="P", doctor="D", start=at(1, 9), end=at(1, 9)
            ),
            "end must be after start",
        ),
        (
            lambda: appointment.AppointmentRequest(
                key="A", patient="P", doctor="D", start=datetime(2026, 1, 1, 9), end=at(1, 10)
            ),
            "timezone",
        ),
        (
            lambda: appointment.AppointmentRequest(
                key="A", patient="P", doctor="D", start=at(1, 9), end=at(1, 10), cancellation_reason="ill"
            ),
            "cancelled or noshow",
        ),
        (lambda: ProcedureRecord(key="R", patient="P", code=Coded(text="x"), visit="V"), "performed"),
        (
            lambda: ProcedureRecord(key="R", patient="P", code=Coded(text="x"), status="preparation"),
            "linked to a plan",
        ),
        (
            lambda: Expense(key="E", category="rent", amount=1, currency="USD", date=date(2026, 1, 1)),
            "reason",
        ),
        (lambda: Expense.model_validate({**_expense(1).model_dump(), "currency": "usd"}), "pattern"),
        (lambda: Finding(code=Coded(text="x")), "value, a quantity or a note"),
        (lambda: Finding(code=Coded(text="x"), value="a", quantity=Decimal(1)), "not both"),
        (
            lambda: ClinicalDocument(
                key="C", patient="P", category="other", content_type="text/html",
                date=at(1, 9), url="Binary/1",
            ),
            "must be one of",
        ),
        (lambda: PatientImage(key="M", patient="P", content_type="image/png"), "data or its url"),
        (
            lambda: PatientImage(key="M", patient="P", content_type="image/png", url="Binary/1", data=b"x"),
            "data or its url",
        ),
    ],
)  # fmt: skip
def test_records_refuse_what_fhir_or_the_clinic_would_refuse(build: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_content_types_are_compared_without_parameters_or_case() -> None:
    document = MINIMAL["document"]
    assert isinstance(document, ClinicalDocument)
    assert document.content_type == "text/plain; charset=utf-8"
    assert (
        PatientImage(key="M", patient="P", content_type="IMAGE/PNG", url="Binary/1").content_type
        == "IMAGE/PNG"
    )


def test_reading_a_resource_without_its_key_is_a_mapping_error() -> None:
    (resource,) = over_the_wire(to_fhir(FULL["appointment"]))
    del resource["identifier"]
    with pytest.raises(MappingError, match="sid/appointment"):
        appointment.from_fhir(resource)


def test_reading_a_reference_without_an_identifier_is_a_mapping_error() -> None:
    (resource,) = over_the_wire(to_fhir(FULL["appointment"]))
    for participant in resource["participant"]:
        participant["actor"].pop("identifier")
    with pytest.raises(MappingError, match="patient identifier"):
        appointment.from_fhir(resource)


def test_reading_a_date_time_without_a_time_zone_is_a_mapping_error() -> None:
    (resource,) = over_the_wire(to_fhir(FULL["appointment"]))
    resource["start"] = "2026-11-30T09:00:00"
    with pytest.raises(MappingError, match=r"Appointment\.start"):
        appointment.from_fhir(resource)


def test_reading_needs_exactly_one_main_resource() -> None:
    resources = over_the_wire(to_fhir(FULL["patient"]) + to_fhir(MINIMAL["patient"]))
    with pytest.raises(MappingError, match="exactly one Patient"):
        patient.from_fhir(resources)
    with pytest.raises(MappingError, match="exactly one Invoice"):
        finance.from_fhir([])


def test_a_doctor_is_not_read_as_a_staff_member() -> None:
    with pytest.raises(MappingError, match="Doctor"):
        staff.from_fhir(to_fhir(FULL["doctor"]))
