"""Every FHIRPath function the evaluator knows, by name (one table per family of functions)."""

from __future__ import annotations

from fhir_server.fhirpath.functions import collections, conversion, dates, fhir, math, strings
from fhir_server.fhirpath.functions.base import FunctionDef

FUNCTIONS: dict[str, FunctionDef] = {
    **collections.FUNCTIONS,
    **conversion.FUNCTIONS,
    **strings.FUNCTIONS,
    **math.FUNCTIONS,
    **dates.FUNCTIONS,
    **fhir.FUNCTIONS,
}
