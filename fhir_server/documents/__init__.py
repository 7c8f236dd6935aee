"""Documents and images: Binary content in the blob store, attachments, uploads, expunge.

``install_documents(services)`` wires the write transforms and the repository write hook; the
routes are in ``fhir_server.api.binary`` and the operations in ``fhir_server.operations.upload``
and ``fhir_server.operations.expunge``.
"""

from fhir_server.documents.install import install_documents

__all__ = ["install_documents"]
