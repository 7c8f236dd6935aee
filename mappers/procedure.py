"""A procedure: a clinic-procedure linked to its treatment plan (``basedOn``), its visit
(``encounter``) and/or its appointment (the ``procedure-appointment`` extension)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, model_validator

from mappers import terms
from mappers.common import (
    APPOINTMENT,
    PATIENT,
    PRACTITIONER,
    PROCEDURE,
    TREATMENT_PLAN,
    VISIT,
    Coded,
    JsonDict,
    Key,
    Record,
    Text,
    as_list,
    codeable,
    elements,
    first,
    identifier,
    new_resource,
    note,
    optional_reference,
    optional_referenced_key,
    own_key,
    read_coded,
    read_note,
    record_id,
    reference,
    referenced_key,
    single,
    string,
)
from mappers.values import datetime_text, read_optional_datetime

ProcedureStatus = Literal[
    "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"
]


class ProcedureRecord(Record):
    """A procedure on ``patient`` (MRN), part of ``plan``, done in ``visit`` and/or booked as
    ``appointment`` (at least one of the three). A completed one has its ``performed`` time."""

    key: Key
    patient: Key
    code: Coded
    status: ProcedureStatus = "completed"
    plan: Key | None = None
    visit: Key | None = None
    appointment: Key | None = None
    performed: AwareDatetime | None = None
    performer: Key | None = None  # staff number
    note: Text | None = None

    @model_validator(mode="after")
    def _linked(self) -> ProcedureRecord:
        if self.plan is None and self.visit is None and self.appointment is None:
            raise ValueError("a procedure is linked to a plan, a visit or an appointment")
        if self.status == "completed" and self.performed is None:
            raise ValueError("a completed procedure needs the time it was performed")
        return self


def to_fhir(procedure: ProcedureRecord) -> JsonDict:
    """The clinic-procedure."""
    booked = optional_reference(APPOINTMENT, procedure.appointment)
    appointment = [{"url": terms.EXT_PROCEDURE_APPOINTMENT, "valueReference": booked}] if booked else None
    performer = [{"actor": reference(PRACTITIONER, procedure.performer)}] if procedure.performer else None
    return new_resource(
        "Procedure",
        record_id(PROCEDURE, procedure.key),
        terms.PROFILE_PROCEDURE,
        extension=appointment,
        identifier=[identifier(PROCEDURE, procedure.key)],
        basedOn=[optional_reference(TREATMENT_PLAN, procedure.plan)],
        status=procedure.status,
        code=codeable(procedure.code),
        subject=reference(PATIENT, procedure.patient),
        encounter=optional_reference(VISIT, procedure.visit),
        performedDateTime=datetime_text(procedure.performed),
        performer=performer,
        note=note(procedure.note),
    )


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> ProcedureRecord:
    """The ProcedureRecord of a clinic-procedure."""
    procedure = single(as_list(resources), "Procedure")
    performer = first(procedure, "performer")
    return ProcedureRecord.model_validate(
        {
            "key": own_key(procedure, PROCEDURE),
            "patient": referenced_key(procedure.get("subject"), PATIENT, "Procedure.subject"),
            "code": read_coded(procedure.get("code"), "Procedure.code"),
            "status": string(procedure, "status"),
            "plan": optional_referenced_key(first(procedure, "basedOn"), TREATMENT_PLAN, "Procedure.basedOn"),
            "visit": optional_referenced_key(procedure.get("encounter"), VISIT, "Procedure.encounter"),
            "appointment": optional_referenced_key(
                _appointment(procedure), APPOINTMENT, "Procedure.extension (procedure-appointment)"
            ),
            "performed": read_optional_datetime(
                procedure.get("performedDateTime"), "Procedure.performedDateTime"
            ),
            "performer": optional_referenced_key(
                performer.get("actor") if isinstance(performer, dict) else None,
                PRACTITIONER,
                "Procedure.performer.actor",
            ),
            "note": read_note(procedure),
        }
    )


def _appointment(procedure: JsonDict) -> Any:
    for extension in elements(procedure, "extension"):
        if isinstance(extension, dict) and extension.get("url") == terms.EXT_PROCEDURE_APPOINTMENT:
            return extension.get("valueReference")
    return None
