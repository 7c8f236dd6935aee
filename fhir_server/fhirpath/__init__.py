"""FHIRPath for FHIR R4B: our evaluator over fhirpathpy's grammar.

fhirpathpy supplies the ANTLR parser; everything after parsing is ours: a compiler to Python
closures (:mod:`.compiler`), the R4B type model (:mod:`.model`), typed nodes over resource JSON
(:mod:`.nodes`, :mod:`.navigation`), dates with precision (:mod:`.temporal`), quantities with
units (:mod:`.quantity`), equality (:mod:`.equality`), operators and functions
(:mod:`.operators`, :mod:`.functions`), and the FHIR services resolve/memberOf/conformsTo
(:mod:`.environment`). It passes the official R4B FHIRPath test suite (see tests/fhirpath).

    compiled = compile_expression("name.given.first()", "Patient")
    compiled.evaluate(patient_json)  # -> [Node(string: 'Peter')]
"""

from fhir_server.fhirpath.engine import CompiledExpression, compile_expression, to_json
from fhir_server.fhirpath.environment import FhirServices
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.nodes import Node

__all__ = ["CompiledExpression", "FhirPathError", "FhirServices", "Node", "compile_expression", "to_json"]
