"""A treatment plan: a clinic-careplan. The diagnosis summary is the plan's ``description``; the
prescription, in words, is an activity of kind ``MedicationRequest``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Final, Literal

from pydantic import model_validator

from mappers import terms
from mappers.common import (
    DIAGNOSIS,
    PATIENT,
    PRACTITIONER,
    TREATMENT_PLAN,
    VISIT,
    JsonDict,
    Key,
    Record,
    Text,
    as_list,
    compact,
    elements,
    identifier,
    new_resource,
    note,
    optional_reference,
    optional_referenced_key,
    own_key,
    points_at,
    read_note,
    record_id,
    reference,
    referenced_key,
    required_string,
    single,
    string,
)
from mappers.values import date_text, read_optional_date

PlanStatus = Literal["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"]

# The prescription activity's status follows the plan's (CarePlan.activity.detail.status is required).
_ACTIVITY_STATUS: Final[dict[str, str]] = {
    "draft": "not-started",
    "active": "in-progress",
    "on-hold": "on-hold",
    "revoked": "stopped",
    "completed": "completed",
    "entered-in-error": "entered-in-error",
    "unknown": "unknown",
}
_PRESCRIPTION_KIND: Final = "MedicationRequest"


class TreatmentPlan(Record):
    """A plan for ``patient`` (MRN) by ``doctor`` (staff number), possibly made during ``visit``.

    ``addresses_diagnosis``: the plan treats the diagnosis recorded in that visit's medical record."""

    key: Key
    patient: Key
    diagnosis_summary: Text
    status: PlanStatus = "active"
    title: Text | None = None
    prescription: Text | None = None
    doctor: Key | None = None
    visit: Key | None = None
    addresses_diagnosis: bool = False
    created: date | None = None
    start: date | None = None
    end: date | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TreatmentPlan:
        if self.addresses_diagnosis and self.visit is None:
            raise ValueError("addresses_diagnosis needs the visit whose diagnosis the plan treats")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


def to_fhir(plan: TreatmentPlan) -> JsonDict:
    """The clinic-careplan."""
    prescription = (
        {
            "detail": {
                "kind": _PRESCRIPTION_KIND,
                "status": _ACTIVITY_STATUS[plan.status],
                "description": plan.prescription,
            }
        }
        if plan.prescription is not None
        else None
    )
    addresses = [reference(DIAGNOSIS, plan.visit)] if plan.addresses_diagnosis and plan.visit else None
    return new_resource(
        "CarePlan",
        record_id(TREATMENT_PLAN, plan.key),
        terms.PROFILE_CAREPLAN,
        identifier=[identifier(TREATMENT_PLAN, plan.key)],
        status=plan.status,
        intent="plan",
        title=plan.title,
        description=plan.diagnosis_summary,
        subject=reference(PATIENT, plan.patient),
        encounter=optional_reference(VISIT, plan.visit),
        period=compact({"start": date_text(plan.start), "end": date_text(plan.end)}),
        created=date_text(plan.created),
        author=optional_reference(PRACTITIONER, plan.doctor),
        addresses=addresses,
        activity=[prescription],
        note=note(plan.note),
    )


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> TreatmentPlan:
    """The TreatmentPlan of a clinic-careplan."""
    plan = single(as_list(resources), "CarePlan")
    raw_period = plan.get("period")
    period: JsonDict = raw_period if isinstance(raw_period, dict) else {}
    visit = optional_referenced_key(plan.get("encounter"), VISIT, "CarePlan.encounter")
    return TreatmentPlan.model_validate(
        {
            "key": own_key(plan, TREATMENT_PLAN),
            "patient": referenced_key(plan.get("subject"), PATIENT, "CarePlan.subject"),
            "diagnosis_summary": required_string(plan, "description"),
            "status": string(plan, "status"),
            "title": string(plan, "title"),
            "prescription": _prescription(plan),
            "doctor": optional_referenced_key(plan.get("author"), PRACTITIONER, "CarePlan.author"),
            "visit": visit,
            "addresses_diagnosis": visit is not None
            and any(points_at(item, DIAGNOSIS, visit) for item in elements(plan, "addresses")),
            "created": read_optional_date(plan.get("created"), "CarePlan.created"),
            "start": read_optional_date(period.get("start"), "CarePlan.period.start"),
            "end": read_optional_date(period.get("end"), "CarePlan.period.end"),
            "note": read_note(plan),
        }
    )


def _prescription(plan: JsonDict) -> str | None:
    for activity in elements(plan, "activity"):
        detail = activity.get("detail") if isinstance(activity, dict) else None
        if isinstance(detail, dict) and detail.get("kind") == _PRESCRIPTION_KIND:
            description = detail.get("description")
            return description if isinstance(description, str) else None
    return None
