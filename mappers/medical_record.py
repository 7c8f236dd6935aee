"""A visit's medical record: clinic-encounter + clinic-condition (the diagnosis, category
``encounter-diagnosis``) + clinic-observation[] (findings, category ``exam``) +
clinic-medicationrequest[] (medications prescribed during the visit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, model_validator

from mappers import terms
from mappers.common import (
    APPOINTMENT,
    DIAGNOSIS,
    FINDING,
    PATIENT,
    PRACTITIONER,
    PRESCRIPTION,
    VISIT,
    Coded,
    JsonDict,
    Key,
    MappingError,
    Record,
    Text,
    as_list,
    codeable,
    concept,
    elements,
    first,
    identifier,
    in_order,
    key_among,
    new_resource,
    note,
    of_type,
    optional_reference,
    own_key,
    part_id,
    part_identifier,
    points_at,
    read_coded,
    read_note,
    record_id,
    reference,
    referenced_key,
    single,
    string,
    text_concept,
    text_of,
)
from mappers.values import (
    Measure,
    datetime_text,
    json_number,
    read_datetime,
    read_decimal,
    read_optional_datetime,
)

VisitStatus = Literal["planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled"]
MedicationStatus = Literal[
    "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"
]


class Finding(Record):
    """What was examined (``code``) and what was found: a ``value`` in words, or a ``quantity`` in
    ``unit``, and/or a ``note``."""

    code: Coded
    value: Text | None = None
    quantity: Measure | None = None
    unit: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _has_result(self) -> Finding:
        if self.value is not None and self.quantity is not None:
            raise ValueError("a finding has a value or a quantity, not both")
        if self.unit is not None and self.quantity is None:
            raise ValueError("a unit needs a quantity")
        if self.value is None and self.quantity is None and self.note is None:
            raise ValueError("a finding needs a value, a quantity or a note")
        return self


class Medication(Record):
    """A medication prescribed during the visit, with its dosage instructions in words."""

    medication: Coded
    dosage: Text
    status: MedicationStatus = "active"


class MedicalRecord(Record):
    """A visit of ``patient`` (MRN) with ``doctor`` (staff number), optionally for ``appointment``."""

    key: Key
    patient: Key
    doctor: Key
    start: AwareDatetime
    end: AwareDatetime | None = None
    status: VisitStatus = "finished"
    appointment: Key | None = None
    reason: Text | None = None
    diagnosis: Coded | None = None
    findings: tuple[Finding, ...] = ()
    medications: tuple[Medication, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> MedicalRecord:
        if self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


def to_fhir(record: MedicalRecord) -> list[JsonDict]:
    """[Encounter, Condition (when there is a diagnosis), Observation per finding,
    MedicationRequest per medication]."""
    diagnosis = [_diagnosis(record)] if record.diagnosis is not None else []
    return [
        _encounter(record),
        *diagnosis,
        *(_finding(record, index, finding) for index, finding in enumerate(record.findings)),
        *(_medication(record, index, item) for index, item in enumerate(record.medications)),
    ]


def _encounter(record: MedicalRecord) -> JsonDict:
    diagnosis = [{"condition": reference(DIAGNOSIS, record.key)}] if record.diagnosis is not None else None
    return new_resource(
        "Encounter",
        record_id(VISIT, record.key),
        terms.PROFILE_ENCOUNTER,
        identifier=[identifier(VISIT, record.key)],
        status=record.status,
        class_={"system": terms.CS_ACT_CODE, "code": "AMB", "display": "ambulatory"},
        subject=reference(PATIENT, record.patient),
        participant=[{"individual": reference(PRACTITIONER, record.doctor)}],
        appointment=[optional_reference(APPOINTMENT, record.appointment)],
        period={"start": datetime_text(record.start), "end": datetime_text(record.end)},
        reasonCode=[text_concept(record.reason)],
        diagnosis=diagnosis,
    )


def _diagnosis(record: MedicalRecord) -> JsonDict:
    assert record.diagnosis is not None
    return new_resource(
        "Condition",
        record_id(DIAGNOSIS, record.key),
        terms.PROFILE_CONDITION,
        identifier=[identifier(DIAGNOSIS, record.key)],
        category=[concept(terms.CS_CONDITION_CATEGORY, "encounter-diagnosis")],
        code=codeable(record.diagnosis),
        subject=reference(PATIENT, record.patient),
        encounter=reference(VISIT, record.key),
        recordedDate=datetime_text(record.start),
        recorder=reference(PRACTITIONER, record.doctor),
    )


def _finding(record: MedicalRecord, index: int, finding: Finding) -> JsonDict:
    measured = finding.quantity
    quantity = None if measured is None else {"value": json_number(measured), "unit": finding.unit}
    return new_resource(
        "Observation",
        part_id(FINDING, record.key, index),
        terms.PROFILE_OBSERVATION,
        identifier=[part_identifier(FINDING, record.key, index)],
        status="final",
        category=[concept(terms.CS_OBSERVATION_CATEGORY, "exam")],
        code=codeable(finding.code),
        subject=reference(PATIENT, record.patient),
        encounter=reference(VISIT, record.key),
        effectiveDateTime=datetime_text(record.start),
        performer=[reference(PRACTITIONER, record.doctor)],
        valueString=finding.value,
        valueQuantity=quantity,
        note=note(finding.note),
    )


def _medication(record: MedicalRecord, index: int, item: Medication) -> JsonDict:
    reasons = [reference(DIAGNOSIS, record.key)] if record.diagnosis is not None else None
    return new_resource(
        "MedicationRequest",
        part_id(PRESCRIPTION, record.key, index),
        terms.PROFILE_MEDICATION_REQUEST,
        identifier=[part_identifier(PRESCRIPTION, record.key, index)],
        status=item.status,
        intent="order",
        medicationCodeableConcept=codeable(item.medication),
        subject=reference(PATIENT, record.patient),
        encounter=reference(VISIT, record.key),
        authoredOn=datetime_text(record.start),
        requester=reference(PRACTITIONER, record.doctor),
        reasonReference=reasons,
        dosageInstruction=[{"text": item.dosage}],
    )


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> MedicalRecord:
    """The MedicalRecord of an Encounter and the diagnosis Condition, Observations and
    MedicationRequests of that encounter among ``resources`` (in their order)."""
    items = as_list(resources)
    encounter = single(items, "Encounter")
    key = own_key(encounter, VISIT)
    period = encounter.get("period")
    if not isinstance(period, dict):
        raise MappingError("Encounter.period is missing")
    of_visit = [item for item in items if points_at(item.get("encounter"), VISIT, key)]
    diagnoses = [item for item in of_type(of_visit, "Condition") if _is_diagnosis_of(item, key)]
    observations, requests = of_type(of_visit, "Observation"), of_type(of_visit, "MedicationRequest")
    if len(diagnoses) > 1:
        raise MappingError(f"expected at most one diagnosis Condition for the visit, found {len(diagnoses)}")
    return MedicalRecord.model_validate(
        {
            "key": key,
            "patient": referenced_key(encounter.get("subject"), PATIENT, "Encounter.subject"),
            "doctor": key_among(_individuals(encounter), PRACTITIONER, "Encounter.participant"),
            "start": read_datetime(period.get("start"), "Encounter.period.start"),
            "end": read_optional_datetime(period.get("end"), "Encounter.period.end"),
            "status": string(encounter, "status"),
            "appointment": _appointment_key(encounter),
            "reason": text_of(first(encounter, "reasonCode")),
            "diagnosis": read_coded(diagnoses[0].get("code"), "Condition.code") if diagnoses else None,
            "findings": [_read_finding(item) for item in in_order(observations, FINDING)],
            "medications": [_read_medication(item) for item in in_order(requests, PRESCRIPTION)],
        }
    )


def _is_diagnosis_of(condition: JsonDict, key: str) -> bool:
    return any(
        isinstance(item, dict) and item.get("system") == DIAGNOSIS.system and item.get("value") == key
        for item in elements(condition, "identifier")
    )


def _individuals(encounter: JsonDict) -> list[Any]:
    return [item.get("individual") for item in elements(encounter, "participant") if isinstance(item, dict)]


def _appointment_key(encounter: JsonDict) -> str | None:
    appointments = elements(encounter, "appointment")
    return key_among(appointments, APPOINTMENT, "Encounter.appointment") if appointments else None


def _read_finding(observation: JsonDict) -> Finding:
    quantity = observation.get("valueQuantity")
    measured = quantity if isinstance(quantity, dict) else {}
    value = measured.get("value")
    return Finding.model_validate(
        {
            "code": read_coded(observation.get("code"), "Observation.code"),
            "value": string(observation, "valueString"),
            "quantity": None if value is None else read_decimal(value, "Observation.valueQuantity.value"),
            "unit": measured.get("unit"),
            "note": read_note(observation),
        }
    )


def _read_medication(request: JsonDict) -> Medication:
    dosage = first(request, "dosageInstruction")
    return Medication.model_validate(
        {
            "medication": read_coded(
                request.get("medicationCodeableConcept"), "MedicationRequest.medicationCodeableConcept"
            ),
            "dosage": text_of(dosage),
            "status": string(request, "status"),
        }
    )
