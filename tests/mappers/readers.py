"""Every record kind's ``from_fhir``, and a JSON round trip like the wire's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from mappers import appointment, doctor, documents, finance, medical_record, patient, procedure, staff
from mappers import treatment_plan as plan
from mappers.bundle import ClinicRecord
from mappers.common import JsonDict

FROM_FHIR: dict[str, Callable[[Sequence[JsonDict]], ClinicRecord]] = {
    "doctor": doctor.from_fhir,
    "staff": staff.from_fhir,
    "patient": patient.from_fhir,
    "appointment": appointment.from_fhir,
    "medical_record": medical_record.from_fhir,
    "treatment_plan": plan.from_fhir,
    "procedure": procedure.from_fhir,
    "expense": finance.from_fhir,
    "income": finance.from_fhir,
    "document": documents.from_fhir,
    "image": documents.from_fhir,
}


def over_the_wire(resources: list[JsonDict]) -> list[JsonDict]:
    """The resources as a client would receive them: JSON bytes, parsed again."""
    parsed: list[dict[str, Any]] = orjson.loads(orjson.dumps(resources))
    return parsed
