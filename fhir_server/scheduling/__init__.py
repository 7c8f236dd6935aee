"""Scheduling rules: Schedule/Slot/Appointment booking without double booking, status workflow.

- No double booking: an Appointment whose status holds time (proposed with a time, pending,
  booked, arrived, checked-in, fulfilled; see ``statuses``) may not overlap, as a half-open
  [start, end), another one holding the same Practitioner (a PractitionerRole counts as its
  practitioner), Patient or Location participant that has not declined. Enforced by a repository
  hook (``hook.BookingRules``) inside every write's transaction, so POST, PUT, PATCH, transaction
  entries and the $book/$cancel/$reschedule operations all obey it; atomic through per-actor
  claim documents and an indexed ledger (``fhir_server.store.ledgers``). 409 names the other
  appointment, and the booked participant, only when the writer may see them.
- Status changes follow ``statuses.TRANSITIONS`` (422 naming from and to).
- Slots follow their appointments: taken (free -> busy) when referenced by a time-holding
  appointment, freed when it stops holding time, changes slot or is deleted (``slots``).
"""

from fhir_server.scheduling.install import install_scheduling

__all__ = ["install_scheduling"]
