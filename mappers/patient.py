"""A patient with allergies and known conditions: clinic-patient + AllergyIntolerance[] +
clinic-condition[] (category ``problem-list-item``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from mappers import terms
from mappers.common import (
    ALLERGY,
    PATIENT,
    PROBLEM,
    Coded,
    JsonDict,
    Record,
    Text,
    as_list,
    code_in,
    codeable,
    concept,
    elements,
    first,
    identifier,
    in_order,
    new_resource,
    note,
    of_type,
    own_key,
    part_id,
    part_identifier,
    points_at,
    read_coded,
    read_note,
    record_id,
    reference,
    single,
    string,
    text_of,
)
from mappers.people import Person, human_name, person_fields, telecom
from mappers.values import date_text, read_date, read_optional_date

Gender = Literal["male", "female", "other", "unknown"]
AllergyStatus = Literal["active", "inactive", "resolved"]
Criticality = Literal["low", "high", "unable-to-assess"]
ConditionStatus = Literal["active", "recurrence", "relapse", "inactive", "remission", "resolved"]


class Allergy(Record):
    """An allergy or intolerance to ``substance``; ``reaction`` is what it causes, in words."""

    substance: Coded
    status: AllergyStatus = "active"
    criticality: Criticality | None = None
    reaction: Text | None = None


class KnownCondition(Record):
    """A condition on the patient's problem list (not a visit's diagnosis)."""

    condition: Coded
    recorded_on: date
    onset: date | None = None
    status: ConditionStatus = "active"
    note: Text | None = None


class PatientRecord(Person):
    """A patient. ``key`` is the medical record number (MRN)."""

    gender: Gender
    birth_date: date | None = None
    address: Text | None = None  # one line of text
    allergies: tuple[Allergy, ...] = ()
    conditions: tuple[KnownCondition, ...] = ()


def to_fhir(patient: PatientRecord) -> list[JsonDict]:
    """[Patient, AllergyIntolerance per allergy, Condition per known condition]."""
    return [
        _patient(patient),
        *(_allergy(patient.key, index, allergy) for index, allergy in enumerate(patient.allergies)),
        *(_condition(patient.key, index, known) for index, known in enumerate(patient.conditions)),
    ]


def _patient(patient: PatientRecord) -> JsonDict:
    return new_resource(
        "Patient",
        record_id(PATIENT, patient.key),
        terms.PROFILE_PATIENT,
        identifier=[identifier(PATIENT, patient.key)],
        active=patient.active,
        name=[human_name(patient)],
        telecom=telecom(patient),
        gender=patient.gender,
        birthDate=date_text(patient.birth_date),
        address=[{"text": patient.address}] if patient.address else None,
    )


def _allergy(key: str, index: int, allergy: Allergy) -> JsonDict:
    return new_resource(
        "AllergyIntolerance",
        part_id(ALLERGY, key, index),
        None,  # the clinic has no AllergyIntolerance profile: the base definition applies
        identifier=[part_identifier(ALLERGY, key, index)],
        clinicalStatus=concept(terms.CS_ALLERGY_CLINICAL, allergy.status),
        criticality=allergy.criticality,
        code=codeable(allergy.substance),
        patient=reference(PATIENT, key),
        reaction=[{"manifestation": [{"text": allergy.reaction}]}] if allergy.reaction else None,
    )


def _condition(key: str, index: int, known: KnownCondition) -> JsonDict:
    return new_resource(
        "Condition",
        part_id(PROBLEM, key, index),
        terms.PROFILE_CONDITION,
        identifier=[part_identifier(PROBLEM, key, index)],
        clinicalStatus=concept(terms.CS_CONDITION_CLINICAL, known.status),
        category=[concept(terms.CS_CONDITION_CATEGORY, "problem-list-item")],
        code=codeable(known.condition),
        subject=reference(PATIENT, key),
        onsetDateTime=date_text(known.onset),
        recordedDate=date_text(known.recorded_on),
        note=note(known.note),
    )


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> PatientRecord:
    """The PatientRecord of a Patient and the AllergyIntolerances and problem-list Conditions
    about it (others among ``resources`` are ignored), in their order."""
    items = as_list(resources)
    patient = single(items, "Patient")
    key = own_key(patient, PATIENT)
    address = first(patient, "address")
    allergies = [
        item for item in of_type(items, "AllergyIntolerance") if points_at(item.get("patient"), PATIENT, key)
    ]
    problems = [
        item
        for item in of_type(items, "Condition")
        if points_at(item.get("subject"), PATIENT, key) and _is_problem(item)
    ]
    return PatientRecord.model_validate(
        {
            "key": key,
            **person_fields(patient),
            "gender": string(patient, "gender"),
            "birth_date": read_optional_date(patient.get("birthDate"), "Patient.birthDate"),
            "address": text_of(address),
            "allergies": [_read_allergy(item) for item in in_order(allergies, ALLERGY)],
            "conditions": [_read_condition(item) for item in in_order(problems, PROBLEM)],
        }
    )


def _is_problem(condition: JsonDict) -> bool:
    return any(
        code_in(category, terms.CS_CONDITION_CATEGORY) == "problem-list-item"
        for category in elements(condition, "category")
    )


def _read_allergy(resource: JsonDict) -> Allergy:
    reaction = first(resource, "reaction")
    manifestation = first(reaction, "manifestation") if isinstance(reaction, dict) else None
    return Allergy.model_validate(
        {
            "substance": read_coded(resource.get("code"), "AllergyIntolerance.code"),
            "status": code_in(resource.get("clinicalStatus"), terms.CS_ALLERGY_CLINICAL) or "active",
            "criticality": string(resource, "criticality"),
            "reaction": text_of(manifestation),
        }
    )


def _read_condition(resource: JsonDict) -> KnownCondition:
    return KnownCondition.model_validate(
        {
            "condition": read_coded(resource.get("code"), "Condition.code"),
            "recorded_on": read_date(resource.get("recordedDate"), "Condition.recordedDate"),
            "onset": read_optional_date(resource.get("onsetDateTime"), "Condition.onsetDateTime"),
            "status": code_in(resource.get("clinicalStatus"), terms.CS_CONDITION_CLINICAL) or "active",
            "note": read_note(resource),
        }
    )
