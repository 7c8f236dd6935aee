"""Clinic records for the mapper tests: each kind with every field filled, and with only what it needs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from mappers.appointment import AppointmentRequest
from mappers.bundle import ClinicRecord
from mappers.common import Coded
from mappers.doctor import Doctor
from mappers.documents import ClinicalDocument, PatientImage
from mappers.finance import Expense, OtherIncome
from mappers.medical_record import Finding, MedicalRecord, Medication
from mappers.patient import Allergy, KnownCondition, PatientRecord
from mappers.procedure import ProcedureRecord
from mappers.staff import StaffMember
from mappers.treatment_plan import TreatmentPlan

CET = timezone(timedelta(hours=1))
ICD10 = "http://hl7.org/fhir/sid/icd-10"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CET)


FULL: dict[str, ClinicRecord] = {
    "doctor": Doctor(
        key="STAFF-001",
        title="Dr.",
        given_name="Omar",
        family_name="Haddad",
        specialties=("cardiology", "internal-medicine"),
        qualification="Doctor of Medicine",
        phone="+1-555-0101",
        email="omar@clinic.example.org",
    ),
    "staff": StaffMember(
        key="STAFF-011", given_name="Sipho", family_name="Ndlovu", roles=("nurse", "lab"), active=False
    ),
    "patient": PatientRecord(
        key="MRN-1",
        given_name="Amina",
        family_name="Example",
        gender="female",
        birth_date=date(1985, 4, 12),
        phone="+1-555-0100",
        email="amina@example.org",
        address="1 Example Street, Springfield",
        allergies=(
            Allergy(substance=Coded(text="Penicillin"), criticality="high", reaction="Hives"),
            Allergy(substance=Coded(text="Peanuts", system="http://snomed.info/sct", code="256349002")),
        ),
        conditions=(
            KnownCondition(
                condition=Coded(text="Asthma", system=ICD10, code="J45"),
                recorded_on=date(2020, 1, 15),
                onset=date(2005, 6, 1),
                status="remission",
                note="Mild, seasonal",
            ),
        ),
    ),
    "appointment": AppointmentRequest(
        key="APT-1",
        patient="MRN-1",
        doctor="STAFF-001",
        start=at(30, 9),
        end=at(30, 9, 30),
        status="cancelled",
        specialty="cardiology",
        reason="Chest pain",
        description="Follow-up",
        cancellation_reason="Patient travelling",
    ),
    "medical_record": MedicalRecord(
        key="VISIT-1",
        patient="MRN-1",
        doctor="STAFF-001",
        appointment="APT-1",
        start=at(30, 9, 2),
        end=at(30, 9, 28),
        status="finished",
        reason="Chest pain",
        diagnosis=Coded(text="Essential hypertension", system=ICD10, code="I10"),
        findings=(
            Finding(code=Coded(text="Systolic blood pressure"), quantity=Decimal("150"), unit="mmHg"),
            Finding(code=Coded(text="Temperature"), quantity=Decimal("36.6"), unit="Cel", note="Oral"),
            Finding(code=Coded(text="Heart sounds"), value="Regular"),
            Finding(code=Coded(text="Skin"), note="Pale"),
        ),
        medications=(
            Medication(medication=Coded(text="Amlodipine 5 mg"), dosage="One tablet a day"),
            Medication(medication=Coded(text="Aspirin 75 mg"), dosage="One tablet a day", status="on-hold"),
        ),
    ),
    "treatment_plan": TreatmentPlan(
        key="PLAN-1",
        patient="MRN-1",
        diagnosis_summary="Essential hypertension, stage 1",
        status="active",
        title="Hypertension treatment",
        prescription="Amlodipine 5 mg once a day",
        doctor="STAFF-001",
        visit="VISIT-1",
        addresses_diagnosis=True,
        created=date(2026, 11, 30),
        start=date(2026, 11, 30),
        end=date(2027, 5, 30),
        note="Review in four weeks",
    ),
    "procedure": ProcedureRecord(
        key="PROC-1",
        patient="MRN-1",
        code=Coded(text="Electrocardiogram", system="http://snomed.info/sct", code="29303009"),
        plan="PLAN-1",
        visit="VISIT-1",
        appointment="APT-1",
        performed=at(30, 9, 15),
        performer="STAFF-011",
        note="Sinus rhythm",
    ),
    "expense": Expense(
        key="EXP-1",
        category="supplies",
        amount=Decimal("480.10"),
        currency="USD",
        date=date(2026, 11, 2),
        reason="Monthly restock",
        reason_code="replacement",
        vendor="Medical Supplies Ltd",
        status="issued",
        note="Invoice 42",
    ),
    "income": OtherIncome(
        key="INC-1",
        source="lab",
        amount=Decimal("35.50"),
        currency="USD",
        date=date(2026, 11, 30),
        payer="Amina Example",
        patient="MRN-1",
        note="Blood panel",
    ),
    "document": ClinicalDocument(
        key="DOC-1",
        patient="MRN-1",
        category="lab-report",
        content_type="application/pdf",
        date=datetime(2026, 11, 30, 10, tzinfo=UTC),
        data=PDF,
        title="blood-test.pdf",
        description="Blood test results",
        author="STAFF-001",
        visit="VISIT-1",
    ),
    "image": PatientImage(
        key="IMG-1",
        patient="MRN-1",
        content_type="image/png",
        url="Binary/abc-123",
        title="forearm.png",
        taken=at(30, 9, 20),
        body_site="Left forearm",
        visit="VISIT-1",
        note="Before treatment",
    ),
}

MINIMAL: dict[str, ClinicRecord] = {
    "doctor": Doctor(key="D", family_name="Haddad", specialties=("general-practice",)),
    "staff": StaffMember(key="S", given_name="Sipho", roles=("admin",)),
    "patient": PatientRecord(key="P", family_name="Example", gender="unknown"),
    "appointment": AppointmentRequest(key="A", patient="P", doctor="D", start=at(1, 8), end=at(1, 9)),
    "medical_record": MedicalRecord(key="V", patient="P", doctor="D", start=at(1, 8)),
    "treatment_plan": TreatmentPlan(key="T", patient="P", diagnosis_summary="Watch and wait"),
    "procedure": ProcedureRecord(
        key="R", patient="P", code=Coded(text="Dressing"), visit="V", status="preparation"
    ),
    "expense": Expense(
        key="E", category="rent", amount=Decimal(0), currency="USD", date=date(2026, 11, 1),
        reason_code="routine",
    ),
    "income": OtherIncome(
        key="I", source="other", amount=Decimal("1"), currency="EUR", date=date(2026, 11, 1)
    ),
    "document": ClinicalDocument(
        key="C", patient="P", category="other", content_type="text/plain; charset=utf-8",
        date=datetime(2026, 11, 1, tzinfo=UTC), url="Binary/1",
    ),
    "image": PatientImage(key="M", patient="P", content_type="image/jpeg", data=b"\xff\xd8\xff\xe0"),
}  # fmt: skip
