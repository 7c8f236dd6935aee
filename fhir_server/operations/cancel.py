"""``Appointment/{id}/$cancel``: cancel an appointment, freeing its time and slots."""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.scheduling.parameters import reason_parameter
from fhir_server.scheduling.workflow import cancel_appointment
from fhir_server.store.repository import WriteResult

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Appointment-cancel",
    "url": "http://clinic.example.org/fhir/OperationDefinition/Appointment-cancel",
    "name": "CancelAppointment",
    "title": "Cancel an appointment",
    "status": "active",
    "kind": "operation",
    "code": "cancel",
    "description": (
        "Sets the appointment's status to cancelled (cancelationReason from 'reason'), freeing its time "
        "and its slots. 422 when its status does not allow cancelling (fulfilled, entered-in-error ...); "
        "cancelling a cancelled appointment changes nothing."
    ),
    "affectsState": True,
    "resource": ["Appointment"],
    "system": False,
    "type": False,
    "instance": True,
    "parameter": [
        {"name": "reason", "use": "in", "min": 0, "max": "1", "type": "CodeableConcept",
         "documentation": "Why (a CodeableConcept, Coding, code or plain text)."},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Appointment"},
    ],
}  # fmt: skip


async def cancel(call: OperationCall) -> WriteResult:
    assert call.resource_id is not None
    return await cancel_appointment(
        services=call.services,
        ctx=call.ctx,
        appointment_id=call.resource_id,
        reason=reason_parameter(call.parameters, "reason"),
        session=call.session,
    )


OPERATIONS = [
    OperationSpec(
        name="cancel",
        definition=DEFINITION,
        levels=frozenset({Level.INSTANCE}),
        handler=cancel,
        resource_types=("Appointment",),
        affects_state=True,
        interaction=Interaction.UPDATE,
    )
]
