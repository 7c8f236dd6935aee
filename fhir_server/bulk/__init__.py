"""FHIR Bulk Data Access 2.0 export (``$export`` at system, Patient and Group level).

- ``kickoff``   the call's parameters checked and resolved into an ``ExportRequest`` (``request``)
- ``exporter``  the ``bulk-export`` job: type after type, NDJSON files of at most
                ``FHIR_BULK_EXPORT_FILE_RESOURCES`` resources, each file a checkpoint
- ``writer``    one file: the search engine's id-ordered slice -> gate -> ``_elements`` -> blob store
- ``status``    the status URL (202 + X-Progress, the manifest, 500) and the files, for their owner

The operation itself is ``fhir_server.operations.export``; the status and file URLs are served
by ``fhir_server.api.bulk``. The job runs on ``fhir_server.jobs``, so an export survives the death
of the instance running it.
"""
