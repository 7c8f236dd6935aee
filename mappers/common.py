"""Shared building blocks of the mappers: the record base class, keys and references, codes, and
small readers that turn a malformed resource into a :class:`MappingError` (dates and exact numbers
are in :mod:`mappers.values`).

Every record has a ``key``: the clinic's own identifier of it (a medical record number, a staff
number, an appointment number ...). It is kept on the main resource as an ``identifier`` (system per
kind, see :mod:`mappers.terms`), and records refer to one another by key. A produced reference holds
both a literal reference to the deterministic id of the target (``Patient/<uuid5>``) and the
target's identifier, so ``from_fhir`` reads keys back without knowing any server id: the round trip
works on resources fresh from ``to_fhir`` and on the same resources read back from the server.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mappers import terms

JsonDict = dict[str, Any]


class MappingError(ValueError):
    """Resources that do not have the shape a clinic record is read from (what is wrong, and where)."""


class Record(BaseModel):
    """Base of the clinic's plain records: immutable, no unknown fields, text stripped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


Text = Annotated[str, Field(min_length=1)]
Key = Annotated[str, Field(min_length=1, max_length=200)]


class Coded(Record):
    """A coded or free-text concept: ``text`` always, and optionally one ``system``/``code`` pair.

    A plain string is accepted where a Coded is expected (``"Hypertension"``)."""

    text: Text
    code: Text | None = None
    system: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return {"text": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _code_has_system(self) -> Coded:
        if (self.code is None) != (self.system is None):
            raise ValueError("code and system go together: give both or neither")
        return self


# ----- kinds, keys and references ----------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A record kind that others refer to: the resource it becomes and the system of its key."""

    name: str
    resource_type: str
    system: str


PATIENT: Final = Kind("patient", "Patient", terms.SID_MRN)
PRACTITIONER: Final = Kind("practitioner", "Practitioner", terms.SID_STAFF)
APPOINTMENT: Final = Kind("appointment", "Appointment", terms.SID_APPOINTMENT)
VISIT: Final = Kind("visit", "Encounter", terms.SID_VISIT)
DIAGNOSIS: Final = Kind("diagnosis", "Condition", terms.SID_VISIT_DIAGNOSIS)
TREATMENT_PLAN: Final = Kind("treatment-plan", "CarePlan", terms.SID_TREATMENT_PLAN)
PROCEDURE: Final = Kind("procedure", "Procedure", terms.SID_PROCEDURE)
EXPENSE: Final = Kind("expense", "Invoice", terms.SID_EXPENSE)
INCOME: Final = Kind("income", "Invoice", terms.SID_INCOME)
DOCUMENT: Final = Kind("document", "DocumentReference", terms.SID_DOCUMENT)
IMAGE: Final = Kind("image", "Media", terms.SID_IMAGE)

# Parts of a record: identified by the record's key and their position in it.
STAFF_ROLE: Final = Kind("staff-role", "PractitionerRole", terms.SID_STAFF_ROLE)
ALLERGY: Final = Kind("allergy", "AllergyIntolerance", terms.SID_ALLERGY)
PROBLEM: Final = Kind("problem", "Condition", terms.SID_PROBLEM)
FINDING: Final = Kind("finding", "Observation", terms.SID_FINDING)
PRESCRIPTION: Final = Kind("prescription", "MedicationRequest", terms.SID_PRESCRIPTION)

_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, terms.CANONICAL)


def _derived_id(*parts: str) -> str:
    """A deterministic resource id: a UUID derived from what the resource stands for."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


def record_id(kind: Kind, key: str) -> str:
    """The id of the main resource of the record ``key`` (references to it use this id)."""
    return _derived_id(kind.name, key)


def identifier(kind: Kind, key: str) -> JsonDict:
    return {"system": kind.system, "value": key}


def part_id(kind: Kind, key: str, position: int) -> str:
    """The deterministic id of the part at ``position`` of the record ``key``."""
    return _derived_id(kind.name, key, str(position))


def part_identifier(kind: Kind, key: str, position: int) -> JsonDict:
    """``<key>#<position>``: keeps a record's parts in their order wherever they are read from."""
    return identifier(kind, f"{key}#{position}")


def in_order(resources: Iterable[JsonDict], kind: Kind) -> list[JsonDict]:
    """``resources`` in the order of their part identifiers (those without one last, as given)."""

    def position(resource_: JsonDict) -> int:
        for item in _list(resource_, "identifier"):
            if isinstance(item, dict) and item.get("system") == kind.system:
                number = str(item.get("value", "")).rpartition("#")[2]
                if number.isdigit():
                    return int(number)
        return sys.maxsize

    return sorted(resources, key=position)


def reference(kind: Kind, key: str) -> JsonDict:
    """A reference to the record ``key`` of ``kind``: literal (deterministic id) and by identifier."""
    return {
        "reference": f"{kind.resource_type}/{record_id(kind, key)}",
        "identifier": identifier(kind, key),
    }


def optional_reference(kind: Kind, key: str | None) -> JsonDict | None:
    return None if key is None else reference(kind, key)


def own_key(resource: JsonDict, kind: Kind) -> str:
    """The record key a resource carries as its ``kind`` identifier."""
    for item in _list(resource, "identifier"):
        if isinstance(item, dict) and item.get("system") == kind.system:
            value = item.get("value")
            if isinstance(value, str):
                return value
    raise MappingError(f"{_label(resource)} has no identifier with system {kind.system}")


def referenced_key(value: Any, kind: Kind, where: str) -> str:
    """The key of the ``kind`` record a Reference points at (from its ``identifier``)."""
    found = _reference_identifier(value, kind)
    if found is None:
        raise MappingError(f"{where} is not a reference carrying a {kind.name} identifier ({kind.system})")
    return found


def optional_referenced_key(value: Any, kind: Kind, where: str) -> str | None:
    return None if value is None else referenced_key(value, kind, where)


def _reference_identifier(value: Any, kind: Kind) -> str | None:
    found = value.get("identifier") if isinstance(value, dict) else None
    if isinstance(found, dict) and found.get("system") == kind.system and isinstance(found.get("value"), str):
        return str(found["value"])
    return None


def key_among(references: Iterable[Any], kind: Kind, where: str) -> str:
    """The key of the first of ``references`` that names a ``kind`` record."""
    for value in references:
        found = _reference_identifier(value, kind)
        if found is not None:
            return found
    raise MappingError(f"{where} has no reference carrying a {kind.name} identifier ({kind.system})")


def points_at(value: Any, kind: Kind, key: str) -> bool:
    """Whether a Reference names the ``kind`` record ``key``."""
    return _reference_identifier(value, kind) == key


# ----- resource assembly and reading ---------------------------------------------------------------


def compact(value: JsonDict) -> JsonDict:
    """``value`` without None members and without the lists and objects that end up empty."""
    compacted: JsonDict = _compact(value)
    return compacted


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {name: _compact(item) for name, item in value.items() if item is not None}
        return {name: item for name, item in kept.items() if item not in ({}, [])}
    if isinstance(value, list):
        items = [_compact(item) for item in value if item is not None]
        return [item for item in items if item not in ({}, [])]
    return value


def new_resource(resource_type: str, rid: str, profile: str | None, /, **elements: Any) -> JsonDict:
    """A resource with its id and claimed profile; None and empty elements are left out."""
    meta = {"profile": [profile]} if profile is not None else None
    return compact({"resourceType": resource_type, "id": rid, "meta": meta, **_renamed(elements)})


def _renamed(elements: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments that are Python keywords carry a trailing underscore (``class_``)."""
    return {name.rstrip("_"): value for name, value in elements.items()}


def _label(resource_: JsonDict) -> str:
    return str(resource_.get("resourceType", "resource"))


def _list(resource_: JsonDict, name: str) -> list[Any]:
    value = resource_.get(name)
    return value if isinstance(value, list) else []


def elements(resource_: JsonDict, name: str) -> list[Any]:
    """The repeated element ``name`` (absent: empty)."""
    return _list(resource_, name)


def first(resource_: JsonDict, name: str) -> Any:
    """The first repetition of ``name``, or None."""
    items = _list(resource_, name)
    return items[0] if items else None


def text_of(value: Any) -> str | None:
    """``value.text`` of a CodeableConcept, Annotation or similar, or None."""
    text = value.get("text") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def string(resource_: JsonDict, name: str) -> str | None:
    value = resource_.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{_label(resource_)}.{name} must be a string")
    return value


def required_string(resource_: JsonDict, name: str) -> str:
    value = string(resource_, name)
    if value is None:
        raise MappingError(f"{_label(resource_)}.{name} is missing")
    return value


def of_type(resources: Iterable[JsonDict], resource_type: str) -> list[JsonDict]:
    return [item for item in resources if item.get("resourceType") == resource_type]


def single(resources: Sequence[JsonDict], resource_type: str) -> JsonDict:
    """The one resource of ``resource_type`` among ``resources``."""
    found = of_type(resources, resource_type)
    if len(found) != 1:
        raise MappingError(f"expected exactly one {resource_type}, found {len(found)}")
    return found[0]


def as_list(resources: JsonDict | Sequence[JsonDict]) -> list[JsonDict]:
    """``from_fhir`` takes one resource or several."""
    return [resources] if isinstance(resources, dict) else list(resources)


def text_concept(text: str | None) -> JsonDict | None:
    """A CodeableConcept holding only text."""
    return None if text is None else {"text": text}


def note(text: str | None) -> list[JsonDict] | None:
    return None if text is None else [{"text": text}]


def read_note(resource_: JsonDict) -> str | None:
    return text_of(first(resource_, "note"))


# ----- codes ---------------------------------------------------------------------------------------


def coding(system: str, code: str) -> JsonDict:
    return {"system": system, "code": code}


def concept(system: str, code: str) -> JsonDict:
    """A CodeableConcept holding one coding."""
    return {"coding": [coding(system, code)]}


def codeable(value: Coded) -> JsonDict:
    codings = [coding(value.system, value.code)] if value.system and value.code else None
    return compact({"coding": codings, "text": value.text})


def read_coded(value: Any, where: str) -> Coded:
    """A Coded from a CodeableConcept: its text (else the first coding's display or code)."""
    if not isinstance(value, dict):
        raise MappingError(f"{where} is missing")
    codings = [item for item in value.get("coding") or [] if isinstance(item, dict)]
    head = codings[0] if codings else {}
    text = text_of(value) or head.get("display") or head.get("code")
    if not isinstance(text, str):
        raise MappingError(f"{where} has neither text nor a code")
    system, code = head.get("system"), head.get("code")
    if isinstance(system, str) and isinstance(code, str):
        return Coded(text=text, system=system, code=code)
    return Coded(text=text)


def code_in(value: Any, system: str) -> str | None:
    """The code of the first coding of ``system`` in a CodeableConcept (or a Coding), or None."""
    if not isinstance(value, dict):
        return None
    codings = value.get("coding") if "coding" in value else [value]
    for item in codings if isinstance(codings, list) else []:
        if isinstance(item, dict) and item.get("system") == system and isinstance(item.get("code"), str):
            return str(item["code"])
    return None


def required_code(value: Any, system: str, where: str) -> str:
    code = code_in(value, system)
    if code is None:
        raise MappingError(f"{where} has no code from {system}")
    return code
