"""Any clinic record to FHIR, and a transaction Bundle of many records.

In the Bundle every produced resource is a ``POST`` whose ``fullUrl`` is ``urn:uuid:<its id>``, and
references between produced resources use those fullUrls (the server assigns the real ids and
rewrites them). A reference to a record that is not in the Bundle becomes a conditional reference
by its key (``Patient?identifier=<mrn system>|<mrn>``), so records may point at what an earlier
import stored; the server fails the whole transaction when no such resource exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from mappers import appointment, doctor, documents, finance, medical_record, patient, procedure, staff
from mappers import treatment_plan as plan
from mappers.common import JsonDict, MappingError, Record

ClinicRecord = (
    doctor.Doctor
    | staff.StaffMember
    | patient.PatientRecord
    | appointment.AppointmentRequest
    | medical_record.MedicalRecord
    | plan.TreatmentPlan
    | procedure.ProcedureRecord
    | finance.Expense
    | finance.OtherIncome
    | documents.ClinicalDocument
    | documents.PatientImage
)

_MAPPERS: Final[dict[type[Record], Callable[[Any], JsonDict | list[JsonDict]]]] = {
    doctor.Doctor: doctor.to_fhir,
    staff.StaffMember: staff.to_fhir,
    patient.PatientRecord: patient.to_fhir,
    appointment.AppointmentRequest: appointment.to_fhir,
    medical_record.MedicalRecord: medical_record.to_fhir,
    plan.TreatmentPlan: plan.to_fhir,
    procedure.ProcedureRecord: procedure.to_fhir,
    finance.Expense: finance.expense_to_fhir,
    finance.OtherIncome: finance.income_to_fhir,
    documents.ClinicalDocument: documents.document_to_fhir,
    documents.PatientImage: documents.image_to_fhir,
}


def to_fhir(record: ClinicRecord) -> list[JsonDict]:
    """The resources of any clinic record (a subclass maps like its record class)."""
    for cls in type(record).__mro__:
        mapper = _MAPPERS.get(cls)
        if mapper is not None:
            produced = mapper(record)
            return [produced] if isinstance(produced, dict) else produced
    raise TypeError(f"{type(record).__name__} is not a clinic record")


@dataclass(frozen=True)
class ClinicBundle:
    """A transaction Bundle and, for each of its entries, the index of the record it came from."""

    bundle: JsonDict
    origins: tuple[int, ...]


def build_transaction(records: Sequence[ClinicRecord]) -> ClinicBundle:
    """A transaction Bundle creating every resource of ``records`` (see the module docstring).

    Raises :class:`MappingError` when two records produce the same resource (the same key twice).
    """
    produced: list[tuple[int, JsonDict]] = [
        (index, resource) for index, record in enumerate(records) for resource in to_fhir(record)
    ]
    full_urls: dict[str, str] = {}
    for _, resource in produced:
        literal = f"{resource['resourceType']}/{resource['id']}"
        if literal in full_urls:
            what = f"{resource['resourceType']}: {_described(resource)}"
            raise MappingError(f"two records produce the same {what}")
        full_urls[literal] = f"urn:uuid:{resource['id']}"
    entries = [_entry(resource, full_urls) for _, resource in produced]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return ClinicBundle(bundle=bundle, origins=tuple(index for index, _ in produced))


def transaction_bundle(records: Iterable[ClinicRecord]) -> JsonDict:
    """The transaction Bundle of ``records`` (see :func:`build_transaction`)."""
    return build_transaction(list(records)).bundle


def _entry(resource: JsonDict, full_urls: dict[str, str]) -> JsonDict:
    literal = f"{resource['resourceType']}/{resource['id']}"
    body = {name: value for name, value in resource.items() if name != "id"}
    return {
        "fullUrl": full_urls[literal],
        "resource": _linked(body, full_urls),
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def _linked(value: Any, full_urls: dict[str, str]) -> Any:
    """A copy of ``value`` whose references point at fullUrls, or search by identifier."""
    if isinstance(value, list):
        return [_linked(item, full_urls) for item in value]
    if not isinstance(value, dict):
        return value
    copied = {name: _linked(item, full_urls) for name, item in value.items()}
    target = copied.get("reference")
    if isinstance(target, str):
        by_identifier = _conditional(target, copied.get("identifier"))
        copied["reference"] = full_urls.get(target) or by_identifier or target
    return copied


def _conditional(literal: str, identifier: Any) -> str | None:
    """``Type?identifier=system|value`` for a reference carrying an identifier, else None."""
    if not isinstance(identifier, dict):
        return None
    system, value = identifier.get("system"), identifier.get("value")
    if not isinstance(system, str) or not isinstance(value, str):
        return None
    resource_type = literal.split("/", 1)[0]
    token = f"{quote(_escaped(system), safe=':/')}|{quote(_escaped(value), safe='')}"
    return f"{resource_type}?identifier={token}"


def _escaped(text: str) -> str:
    """FHIR search escaping of a token part (``\\``, ``,``, ``|``, ``$``)."""
    for special in ("\\", ",", "|", "$"):
        text = text.replace(special, "\\" + special)
    return text


def _described(resource: JsonDict) -> str:
    identifiers = resource.get("identifier") or []
    first = identifiers[0] if identifiers and isinstance(identifiers[0], dict) else {}
    if first:
        return f"identifier {first.get('system')}|{first.get('value')}"
    return "a resource derived from a record key used twice"
