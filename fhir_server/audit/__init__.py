"""The audit trail: an AuditEvent for every interaction, a Provenance for every write.

* ``events``, ``vocabulary``: AuditEvents shaped on the IHE Basic Audit Log Patterns (BALP).
* ``hooks``: a write's AuditEvent and Provenance, in the write's own transaction.
* ``observer``, ``writer``: every other call (reads, searches, refusals), written in batches.
* ``access``, ``routes``: who may read the log; nobody may change it.
* ``trail``: the process's trail, its start, close, retention and ``security_event``.
* ``cli``: ``fhir-server audit verify | export | expire``.

Storage, the outbox and the hash chain are in ``fhir_server.store.audit_log``.
"""
