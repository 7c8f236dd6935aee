"""``Appointment/$book``: book a free Slot (the slot turns busy, the appointment references it)."""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction
from fhir_server.errors import BadRequest
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.parameters import first_value
from fhir_server.scheduling.parameters import reference_parameter
from fhir_server.scheduling.workflow import book_slot
from fhir_server.store.repository import WriteResult

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Appointment-book",
    "url": "http://clinic.example.org/fhir/OperationDefinition/Appointment-book",
    "name": "BookAppointment",
    "title": "Book an appointment in a free slot",
    "status": "active",
    "kind": "operation",
    "code": "book",
    "description": (
        "Creates an Appointment for a free Slot in one transaction: the appointment takes the slot's "
        "start and end, references the slot, and has the slot's schedule actors and the patient as "
        "participants; the slot becomes busy. 409 when the slot is taken or a participant is already "
        "booked at that time."
    ),
    "affectsState": True,
    "resource": ["Appointment"],
    "system": False,
    "type": True,
    "instance": False,
    "parameter": [
        {"name": "slot", "use": "in", "min": 1, "max": "1", "type": "Reference",
         "documentation": "The free Slot to book (a Reference, or a string 'Slot/id')."},
        {"name": "patient", "use": "in", "min": 0, "max": "1", "type": "Reference",
         "documentation": "The patient attending."},
        {"name": "appointment", "use": "in", "min": 0, "max": "1", "type": "Appointment",
         "documentation": "Further content for the appointment (reason, description, more participants)."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Appointment"},
    ],
}  # fmt: skip


async def book(call: OperationCall) -> WriteResult:
    services = call.services
    base_url = services.settings.base_url
    slot_id = reference_parameter(call.parameters, "slot", "Slot", base_url)
    if slot_id is None:
        raise BadRequest("$book needs a 'slot' parameter", ("slot",))
    patient_id = reference_parameter(call.parameters, "patient", "Patient", base_url)
    template = first_value(call.parameters, "appointment")
    return await book_slot(
        services=services,
        ctx=call.ctx,
        slot_id=slot_id,
        patient=None if patient_id is None else f"Patient/{patient_id}",
        template=template if isinstance(template, dict) else None,
        session=call.session,
    )


OPERATIONS = [
    OperationSpec(
        name="book",
        definition=DEFINITION,
        levels=frozenset({Level.TYPE}),
        handler=book,
        resource_types=("Appointment",),
        affects_state=True,
        interaction=Interaction.CREATE,
    )
]
