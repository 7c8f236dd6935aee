"""A doctor: a clinic-practitioner plus a ``doctor`` clinic-practitionerrole with the specialties."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from mappers.common import PRACTITIONER, JsonDict, MappingError, Text, as_list, own_key, single
from mappers.people import (
    Person,
    name_prefix,
    person_fields,
    practitioner,
    practitioner_role,
    qualification_text,
    role_code,
    role_specialties,
    roles_of,
)

Specialty = Literal[
    "general-practice", "internal-medicine", "cardiology", "endocrinology", "gastroenterology",
    "nephrology", "pulmonology", "surgery", "general-surgery", "orthopedic-surgery", "plastic-surgery",
    "dentistry", "orthodontics", "oral-surgery", "pediatrics", "dermatology", "gynecology-obstetrics",
    "ophthalmology", "otolaryngology", "neurology", "psychiatry", "radiology", "urology", "physiotherapy",
]  # fmt: skip


class Doctor(Person):
    """A doctor of the clinic. ``key`` is the staff number; ``specialties`` are clinic-specialty codes."""

    specialties: tuple[Specialty, ...] = Field(min_length=1)
    title: Text | None = None  # "Dr.", the name's prefix
    qualification: Text | None = None  # "Doctor of Medicine"


def to_fhir(doctor: Doctor) -> list[JsonDict]:
    """[Practitioner, PractitionerRole (doctor, with the specialties)]."""
    return [
        practitioner(doctor, prefix=doctor.title, qualification=doctor.qualification),
        practitioner_role(doctor, 0, "doctor", doctor.specialties),
    ]


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> Doctor:
    """The Doctor of a Practitioner and its ``doctor`` PractitionerRole."""
    items = as_list(resources)
    resource = single(items, "Practitioner")
    key = own_key(resource, PRACTITIONER)
    roles = [role for role in roles_of(items, key) if role_code(role) == "doctor"]
    if len(roles) != 1:
        raise MappingError(f"expected one doctor PractitionerRole for the practitioner, found {len(roles)}")
    return Doctor.model_validate(
        {
            "key": key,
            **person_fields(resource),
            "specialties": role_specialties(roles[0]),
            "title": name_prefix(resource),
            "qualification": qualification_text(resource),
        }
    )
