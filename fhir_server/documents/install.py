"""Wiring documents into the app's services (called once per app, from ``fhir_server.wiring``)."""

from __future__ import annotations

from fhir_server.documents.hooks import DocumentsWriteHook
from fhir_server.documents.transforms import write_transforms
from fhir_server.services import Services
from fhir_server.store.ledgers import BinaryLedger


def install_documents(services: Services) -> None:
    """Add the Binary and attachment write transforms and the documents write hook."""
    services.write_transforms.extend(write_transforms(services))
    services.repository.hooks.append(DocumentsWriteHook(services, BinaryLedger(services.repository.db)))
