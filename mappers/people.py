"""What patients, doctors and staff members share: a name, contact details, and (for the clinic's
own people) a Practitioner with one PractitionerRole per role held."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import model_validator

from mappers import terms
from mappers.common import (
    PRACTITIONER,
    STAFF_ROLE,
    JsonDict,
    Key,
    MappingError,
    Record,
    Text,
    code_in,
    compact,
    concept,
    elements,
    first,
    identifier,
    in_order,
    new_resource,
    of_type,
    part_id,
    part_identifier,
    points_at,
    record_id,
    reference,
    string,
    text_of,
)

StaffRole = Literal["admin", "doctor", "nurse", "receptionist", "accountant", "lab"]


class Person(Record):
    """A person's ``key``, name and contact details. At least one of the two names is needed."""

    key: Key
    given_name: Text | None = None  # kept whole: "Anna Maria" is one given-name entry
    family_name: Text | None = None
    phone: Text | None = None
    email: Text | None = None
    active: bool = True

    @model_validator(mode="after")
    def _named(self) -> Person:
        if self.given_name is None and self.family_name is None:
            raise ValueError("a person needs a given_name or a family_name")
        return self


def human_name(person: Person, prefix: str | None = None) -> JsonDict:
    given = [person.given_name] if person.given_name is not None else None
    return compact({"family": person.family_name, "given": given, "prefix": [prefix] if prefix else None})


def telecom(person: Person) -> list[JsonDict]:
    points = (("phone", person.phone), ("email", person.email))
    return [{"system": system, "value": value} for system, value in points if value is not None]


def person_fields(resource: JsonDict) -> dict[str, Any]:
    """The :class:`Person` fields (but the key) of a Patient or Practitioner."""
    name = first(resource, "name") or {}
    if not isinstance(name, dict):
        raise MappingError(f"{resource.get('resourceType')}.name must be a HumanName")
    given = [part for part in name.get("given") or [] if isinstance(part, str)]
    points = [item for item in elements(resource, "telecom") if isinstance(item, dict)]
    contacts = {item.get("system"): item.get("value") for item in points}
    active = resource.get("active")
    return {
        "given_name": " ".join(given) or None,
        "family_name": string(name, "family"),
        "phone": contacts.get("phone"),
        "email": contacts.get("email"),
        "active": active if isinstance(active, bool) else True,
    }


def name_prefix(resource: JsonDict) -> str | None:
    name = first(resource, "name")
    prefix = first(name, "prefix") if isinstance(name, dict) else None
    return prefix if isinstance(prefix, str) else None


def qualification_text(resource: JsonDict) -> str | None:
    qualification = first(resource, "qualification")
    return text_of(qualification.get("code")) if isinstance(qualification, dict) else None


def practitioner(person: Person, *, prefix: str | None = None, qualification: str | None = None) -> JsonDict:
    """A clinic-practitioner for one of the clinic's people, with the staff number as identifier."""
    return new_resource(
        "Practitioner",
        record_id(PRACTITIONER, person.key),
        terms.PROFILE_PRACTITIONER,
        identifier=[identifier(PRACTITIONER, person.key)],
        active=person.active,
        name=[human_name(person, prefix)],
        telecom=telecom(person),
        qualification=[{"code": {"text": qualification}}] if qualification else None,
    )


def practitioner_role(
    person: Person, position: int, role: StaffRole, specialties: Sequence[str] = ()
) -> JsonDict:
    """A clinic-practitionerrole: ``person`` holds ``role`` (a doctor's role carries specialties)."""
    return new_resource(
        "PractitionerRole",
        part_id(STAFF_ROLE, person.key, position),
        terms.PROFILE_PRACTITIONER_ROLE,
        identifier=[part_identifier(STAFF_ROLE, person.key, position)],
        active=person.active,
        practitioner=reference(PRACTITIONER, person.key),
        code=[concept(terms.CS_STAFF_ROLE, role)],
        specialty=[concept(terms.CS_SPECIALTY, code) for code in specialties],
    )


def roles_of(resources: Sequence[JsonDict], key: str) -> list[JsonDict]:
    """The PractitionerRoles among ``resources`` that belong to the staff member ``key``."""
    roles = of_type(resources, "PractitionerRole")
    mine = [role for role in roles if points_at(role.get("practitioner"), PRACTITIONER, key)]
    return in_order(mine, STAFF_ROLE)


def role_code(role: JsonDict) -> str:
    code = code_in(first(role, "code"), terms.CS_STAFF_ROLE)
    if code is None:
        raise MappingError(f"PractitionerRole.code has no code from {terms.CS_STAFF_ROLE}")
    return code


def role_specialties(role: JsonDict) -> list[str]:
    return [
        code
        for item in elements(role, "specialty")
        if (code := code_in(item, terms.CS_SPECIALTY)) is not None
    ]
