"""An appointment between a patient and a doctor: a clinic-appointment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, model_validator

from mappers import terms
from mappers.common import (
    APPOINTMENT,
    PATIENT,
    PRACTITIONER,
    JsonDict,
    Key,
    Record,
    Text,
    as_list,
    code_in,
    concept,
    elements,
    first,
    identifier,
    key_among,
    new_resource,
    own_key,
    record_id,
    reference,
    single,
    string,
    text_concept,
    text_of,
)
from mappers.doctor import Specialty
from mappers.values import datetime_text, read_datetime

AppointmentStatus = Literal[
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error",
    "checked-in", "waitlist",
]  # fmt: skip
_ENDED_UNMET = frozenset({"cancelled", "noshow"})


class AppointmentRequest(Record):
    """A booking of ``patient`` (MRN) with ``doctor`` (staff number) from ``start`` to ``end``."""

    key: Key
    patient: Key
    doctor: Key
    start: AwareDatetime
    end: AwareDatetime
    status: AppointmentStatus = "booked"
    specialty: Specialty | None = None
    reason: Text | None = None
    description: Text | None = None
    cancellation_reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AppointmentRequest:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.cancellation_reason is not None and self.status not in _ENDED_UNMET:
            raise ValueError("a cancellation_reason needs the status cancelled or noshow")
        return self


def to_fhir(appointment: AppointmentRequest) -> JsonDict:
    """The clinic-appointment; both participants have accepted (it is the clinic's own booking)."""
    return new_resource(
        "Appointment",
        record_id(APPOINTMENT, appointment.key),
        terms.PROFILE_APPOINTMENT,
        identifier=[identifier(APPOINTMENT, appointment.key)],
        status=appointment.status,
        cancelationReason=text_concept(appointment.cancellation_reason),
        specialty=[concept(terms.CS_SPECIALTY, appointment.specialty)] if appointment.specialty else None,
        reasonCode=[text_concept(appointment.reason)],
        description=appointment.description,
        start=datetime_text(appointment.start),
        end=datetime_text(appointment.end),
        participant=[
            {"actor": reference(PATIENT, appointment.patient), "status": "accepted"},
            {"actor": reference(PRACTITIONER, appointment.doctor), "status": "accepted"},
        ],
    )


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> AppointmentRequest:
    """The AppointmentRequest of a clinic-appointment."""
    resource = single(as_list(resources), "Appointment")
    return AppointmentRequest.model_validate(
        {
            "key": own_key(resource, APPOINTMENT),
            "patient": key_among(_actors(resource), PATIENT, "Appointment.participant"),
            "doctor": key_among(_actors(resource), PRACTITIONER, "Appointment.participant"),
            "start": read_datetime(resource.get("start"), "Appointment.start"),
            "end": read_datetime(resource.get("end"), "Appointment.end"),
            "status": string(resource, "status"),
            "specialty": code_in(first(resource, "specialty"), terms.CS_SPECIALTY),
            "reason": text_of(first(resource, "reasonCode")),
            "description": string(resource, "description"),
            "cancellation_reason": text_of(resource.get("cancelationReason")),
        }
    )


def _actors(resource: JsonDict) -> list[Any]:
    return [item.get("actor") for item in elements(resource, "participant") if isinstance(item, dict)]
