"""The OpenAPI document, generated from the same ServerCapabilities as /metadata.

FastAPI's own schema sees only generic ``/fhir/{path}`` routes; here every resource type gets its
interactions, its search parameters and its ``$operations``, with the real R4B resource schemas
(the official JSON schema, ``fhir_server/spec/openapi_schemas.json.gz``) and a request example per
type. Whatever is shared is declared once under ``components`` and ``$ref``'d
(:mod:`fhir_server.api.openapi_components`), so the document stays a few MB (a few hundred kB gzipped)
for 141 types.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from fhir_server.api import openapi_components as c
from fhir_server.api import openapi_paths as p
from fhir_server.capabilities import ServerCapabilities

_GENERIC_PREFIX: Final = "/fhir/{"
_HIDDEN_PARAMETERS: Final = frozenset({"_type", "_has"})  # documented in the search description
SPEC_PAGE: Final = "https://hl7.org/fhir/R4B"
DESCRIPTION: Final = """FHIR R4B (4.3.0) RESTful API for clinics, secured with SMART on FHIR (send a bearer
token; `fhir-server dev-token --scope "system/*.rs" --allow-wildcard` prints one for scripts).

**Search**: every parameter listed per type, with modifiers (`name:exact=...`), chains
(`subject:Patient.name=...`), reverse chains (`_has:Observation:patient:code=...`), `_include`,
`_revinclude`, `_sort`, `_elements`, `_summary`. Unknown parameters are refused (400) unless
`Prefer: handling=lenient`. Pages are keyset pages: follow the Bundle's `next` link.
`Bundle.total` is there by default: exact up to 10,000 matches, an estimate above (the Bundle says
so); `_total=accurate` counts everything, `_total=none` skips it.

**Writes**: conditional create (`If-None-Exist`, or `POST Patient?identifier=...`), conditional
update/patch/delete, `If-Match` for versions, `Prefer: return=minimal|representation|OperationOutcome`.
Patches: JSON Patch, JSON merge patch (`application/merge-patch+json`, or a fragment as
`application/json`) and FHIRPath Patch. Errors are OperationOutcomes with a FHIRPath `expression`.

The schemas are the official R4B JSON schema (CC0), one per resource and data type."""


def _search_parameters(
    capabilities: ServerCapabilities, resource_type: str, components: c.JsonDict
) -> list[str]:
    """The component names of a type's search parameters, declaring each the first time it is met."""
    names = []
    for param in capabilities.registry.search_parameters(resource_type):
        if param.code in _HIDDEN_PARAMETERS:
            continue
        declared = c.search_parameter(param, param.modifiers)
        key = c.search_parameter_key(param)
        while key in components["parameters"] and components["parameters"][key] != declared:
            key += "_"  # the same canonical tail, a different parameter (custom ones)
        components["parameters"][key] = declared
        names.append(key)
    return names


def _tag(resource_type: str, components: c.JsonDict) -> c.JsonDict:
    schema = components["schemas"].get(resource_type, {})
    return {
        "name": resource_type,
        "description": schema.get("description", ""),
        "externalDocs": {"url": f"{SPEC_PAGE}/{resource_type.lower()}.html"},
    }


def fhir_openapi(app: FastAPI, capabilities: ServerCapabilities) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
    paths = {
        path: item for path, item in schema.get("paths", {}).items() if not path.startswith(_GENERIC_PREFIX)
    }
    for item in paths.values():  # the OAuth endpoints and discovery documents take no bearer token
        for operation in item.values():
            operation["security"] = []
    components: c.JsonDict = c.base_components()
    examples = set(components["examples"])
    paths.update(p.system_paths())
    tags = [{"name": "system", "description": "The whole server: batches, transactions, system search"}]
    for resource_type in capabilities.registry.resource_types():
        c.type_components(resource_type, components)
        names = _search_parameters(capabilities, resource_type, components)
        paths.update(p.type_paths(resource_type, names))
        for op in capabilities.operations_for(resource_type):
            paths.update(p.operation_paths(op, resource_type, examples))
        tags.append(_tag(resource_type, components))
    for op in capabilities.operations_for(None):
        paths.update(p.operation_paths(op, None, examples))
    p.binary_content(paths)
    paths.update(p.compartment_paths(capabilities.compartments()))
    schema["paths"] = paths
    schema["tags"] = tags
    fastapi_components = schema.get("components", {})
    for section, entries in fastapi_components.items():
        components.setdefault(section, {}).update(entries)
    schema["components"] = components
    schema["security"] = [{"smart": []}]
    schema["externalDocs"] = {"description": "FHIR R4B", "url": SPEC_PAGE}
    return schema
