"""The PATCH engines: JSON Patch (RFC 6902), FHIRPath Patch and JSON Merge Patch (RFC 7386), as
pure functions on FHIR JSON."""

from fhir_server.patch.fhirpath_patch import apply_fhirpath_patch
from fhir_server.patch.json_patch import apply_json_patch
from fhir_server.patch.merge_patch import apply_merge_patch

__all__ = ["apply_fhirpath_patch", "apply_json_patch", "apply_merge_patch"]
