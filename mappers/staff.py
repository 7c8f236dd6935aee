"""A staff member: a clinic-practitioner plus one clinic-practitionerrole per role held.

Doctors are :class:`mappers.doctor.Doctor` records (their role carries specialties), so a staff
member's roles never include ``doctor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator

from mappers.common import PRACTITIONER, JsonDict, MappingError, as_list, own_key, single
from mappers.people import Person, person_fields, practitioner, practitioner_role, role_code, roles_of

NonDoctorRole = Literal["admin", "nurse", "receptionist", "accountant", "lab"]


class StaffMember(Person):
    """A member of staff. ``key`` is the staff number; ``roles`` are clinic-staff-role codes."""

    roles: tuple[NonDoctorRole, ...] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _distinct(cls, roles: tuple[NonDoctorRole, ...]) -> tuple[NonDoctorRole, ...]:
        if len(set(roles)) != len(roles):
            raise ValueError("each role is listed once")
        return roles


def to_fhir(member: StaffMember) -> list[JsonDict]:
    """[Practitioner, PractitionerRole per role]."""
    roles = (practitioner_role(member, position, role) for position, role in enumerate(member.roles))
    return [practitioner(member), *roles]


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> StaffMember:
    """The StaffMember of a Practitioner and its PractitionerRoles."""
    items = as_list(resources)
    resource = single(items, "Practitioner")
    key = own_key(resource, PRACTITIONER)
    roles = [role_code(role) for role in roles_of(items, key)]
    if "doctor" in roles:
        raise MappingError("a practitioner with a doctor role is a Doctor (mappers.doctor)")
    return StaffMember.model_validate({"key": key, **person_fields(resource), "roles": roles})
