"""``Appointment/{id}/$reschedule``: move an appointment to a new time or slot, atomically."""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.scheduling.parameters import reference_parameter, text_parameter
from fhir_server.scheduling.workflow import reschedule_appointment
from fhir_server.store.repository import WriteResult

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Appointment-reschedule",
    "url": "http://clinic.example.org/fhir/OperationDefinition/Appointment-reschedule",
    "name": "RescheduleAppointment",
    "title": "Reschedule an appointment",
    "status": "active",
    "kind": "operation",
    "code": "reschedule",
    "description": (
        "Moves an appointment (status proposed, pending, booked or waitlist) to a new start and end, or "
        "to a new free slot, in one transaction: the old slots are freed and the new one taken, or "
        "nothing changes (409 when the new time is taken). Participants are kept."
    ),
    "affectsState": True,
    "resource": ["Appointment"],
    "system": False,
    "type": False,
    "instance": True,
    "parameter": [
        {"name": "slot", "use": "in", "min": 0, "max": "1", "type": "Reference",
         "documentation": "The new free Slot (instead of start and end)."},
        {"name": "start", "use": "in", "min": 0, "max": "1", "type": "instant",
         "documentation": "The new start (with end, instead of slot)."},
        {"name": "end", "use": "in", "min": 0, "max": "1", "type": "instant",
         "documentation": "The new end (with start, instead of slot)."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Appointment"},
    ],
}  # fmt: skip


async def reschedule(call: OperationCall) -> WriteResult:
    services = call.services
    assert call.resource_id is not None
    return await reschedule_appointment(
        services=services,
        ctx=call.ctx,
        appointment_id=call.resource_id,
        start=text_parameter(call.parameters, "start"),
        end=text_parameter(call.parameters, "end"),
        slot_id=reference_parameter(call.parameters, "slot", "Slot", services.settings.base_url),
        session=call.session,
    )


OPERATIONS = [
    OperationSpec(
        name="reschedule",
        definition=DEFINITION,
        levels=frozenset({Level.INSTANCE}),
        handler=reschedule,
        resource_types=("Appointment",),
        affects_state=True,
        interaction=Interaction.UPDATE,
    )
]
