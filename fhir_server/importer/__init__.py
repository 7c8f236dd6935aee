"""``fhir-server import``: bulk loading of Bundle and NDJSON files through the transaction code."""
