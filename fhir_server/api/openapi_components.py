"""The shared parts of the OpenAPI document, each declared once under ``components`` and ``$ref``'d.

Schemas are the official R4B JSON schema (``fhir_server/spec/openapi_schemas.json.gz``), plus the
patch formats; examples are one request example per resource type (checked against its schema and
the server's validator when generated); search parameters are one component each, however many
types share them (``patient`` is declared once for some 30 types).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from fhir_server.capabilities import SearchParamLike
from fhir_server.conformance import spec_data

JsonDict = dict[str, Any]
FHIR_JSON: Final = "application/fhir+json"
SCHEMAS: Final = "#/components/schemas/"
PARAMETERS: Final = "#/components/parameters/"
RESPONSES: Final = "#/components/responses/"
EXAMPLES: Final = "#/components/examples/"
HEADERS: Final = "#/components/headers/"
REQUEST_BODIES: Final = "#/components/requestBodies/"
ANY_RESOURCE: Final = "ResourceList"  # the official schema's name for "any resource"
DESCRIPTION_LIMIT: Final = 240


def ref(prefix: str, name: str) -> JsonDict:
    return {"$ref": f"{prefix}{name}"}


def schema_ref(name: str) -> JsonDict:
    return ref(SCHEMAS, name)


def fhir_content(schema: JsonDict, examples: dict[str, str] | None = None) -> JsonDict:
    media: JsonDict = {"schema": schema}
    if examples:
        media["examples"] = {key: ref(EXAMPLES, name) for key, name in examples.items()}
    return {FHIR_JSON: media}


def _query(name: str, description: str, **schema: Any) -> JsonDict:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string", **schema}}


def _header(name: str, description: str) -> JsonDict:
    return {"name": name, "in": "header", "description": description, "schema": {"type": "string"}}


# Control parameters of a search, by component name.
SEARCH_CONTROLS: Final[dict[str, JsonDict]] = {
    "_count": _query("_count", "Page size (the server caps it).", pattern="^[0-9]+$"),
    "_sort": _query("_sort", "Comma-separated sort parameters; '-' before one sorts it descending."),
    "_include": _query("_include", "Type:parameter[:target] - add the resources these references point at."),
    "_revinclude": _query("_revinclude", "Type:parameter[:target] - add the resources that point here."),
    "_summary": _query(
        "_summary",
        "true | text | data | count | false",
        enum=["true", "text", "data", "count", "false"],
    ),
    "_elements": _query("_elements", "Comma-separated top-level elements to return (tagged SUBSETTED)."),
    "_total": _query(
        "_total",
        "Bundle.total: by default exact when cheap, an estimate (said so) above 10,000 matches; "
        "accurate always counts; none leaves it out.",
        enum=["none", "estimate", "accurate"],
    ),
}
READ_CONTROLS: Final = ("_summary", "_elements")
OTHER_PARAMETERS: Final[dict[str, JsonDict]] = {
    "id": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "Logical id",
        "schema": {"type": "string"},
    },
    "vid": {
        "name": "vid",
        "in": "path",
        "required": True,
        "description": "Version id",
        "schema": {"type": "string"},
    },
    "If-Match": _header("If-Match", 'Update only this version: W/"3" (412 otherwise).'),
    "If-None-Exist": _header(
        "If-None-Exist", "Conditional create: a search query; create only if none matches."
    ),
    "If-None-Match": _header(
        "If-None-Match", "Conditional read: the ETag of the client's copy (304 if current)."
    ),
    "If-Modified-Since": _header("If-Modified-Since", "Conditional read: an HTTP date (304 if unchanged)."),
    "Prefer": _header("Prefer", "return=minimal | representation | OperationOutcome; handling=lenient"),
}
HEADER_COMPONENTS: Final[dict[str, JsonDict]] = {
    "ETag": {"description": 'The version, W/"<versionId>"', "schema": {"type": "string"}},
    "Location": {"description": "The new version: [base]/Type/id/_history/vid", "schema": {"type": "string"}},
    "Last-Modified": {"description": "meta.lastUpdated as an HTTP date", "schema": {"type": "string"}},
}
ERROR_EXAMPLE: Final[JsonDict] = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "invalid",
            "diagnostics": "search parameter 'birthdate': not a date",
            "expression": ["birthdate"],
        }
    ],
}
TRANSACTION_EXAMPLE: Final[JsonDict] = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:2b5d3f5e-4f43-4c4e-9d3e-8f1f9c1a0b01",
            "resource": {"resourceType": "Patient", "name": [{"family": "Example", "given": ["Ada"]}]},
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "Body weight"},
                "subject": {"reference": "urn:uuid:2b5d3f5e-4f43-4c4e-9d3e-8f1f9c1a0b01"},
                "valueQuantity": {
                    "value": 70,
                    "unit": "kg",
                    "system": "http://unitsofmeasure.org",
                    "code": "kg",
                },
            },
            "request": {"method": "POST", "url": "Observation"},
        },
    ],
}
PATCH_SCHEMAS: Final[dict[str, JsonDict]] = {
    "JsonPatch": {
        "description": "RFC 6902 JSON Patch",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
                "path": {"type": "string"},
                "from": {"type": "string"},
                "value": {},
            },
        },
    },
    "MergePatch": {
        "description": "RFC 7386 JSON merge patch: a fragment of the resource; null removes an element",
        "type": "object",
    },
}


def search_parameter_key(param: SearchParamLike) -> str:
    """The component name of a search parameter: the tail of its canonical URL (``Patient-name``)."""
    tail = param.url.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if param.url else param.code
    return re.sub(r"[^A-Za-z0-9._-]", "-", tail)


def search_parameter(param: SearchParamLike, modifiers: Sequence[str]) -> JsonDict:
    hint = f"{param.type} parameter" + (
        f" (modifiers: {', '.join(':' + m for m in modifiers)})" if modifiers else ""
    )
    text = " ".join(param.documentation.split())
    if len(text) > DESCRIPTION_LIMIT:  # the specification's "Multiple Resources: * [Account] ..." lists
        text = text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
    return _query(param.code, f"{hint}. {text}" if text else hint)


def base_components() -> JsonDict:
    """Everything shared that does not depend on the server's capabilities."""
    generated = spec_data.openapi_components()
    examples: JsonDict = {}
    for resource_type, example in generated["examples"].items():
        examples[resource_type] = {"summary": f"A {resource_type}", "value": example}
        examples[f"{resource_type}.update"] = {
            "summary": f"A {resource_type} with the id of the URL (example)",
            "value": {**example, "id": "example"},
        }
    examples["Error"] = {"summary": "An error", "value": ERROR_EXAMPLE}
    examples["Transaction"] = {"summary": "A patient and an observation of it", "value": TRANSACTION_EXAMPLE}
    return {
        "schemas": {**generated["schemas"], **PATCH_SCHEMAS},
        "parameters": {**SEARCH_CONTROLS, **OTHER_PARAMETERS},
        "headers": HEADER_COMPONENTS,
        "examples": examples,
        "responses": {
            "Error": {
                "description": "An OperationOutcome: what is wrong (400, 401, 403, 404, 409, 410, 422 ...)",
                "content": fhir_content(schema_ref("OperationOutcome"), {"error": "Error"}),
            },
            "NotModified": {
                "description": "The client's copy is current",
                "headers": {"ETag": ref(HEADERS, "ETag")},
            },
            "Deleted": {"description": "Deleted (a later read answers 410 Gone)"},
            "Bundle.search": {
                "description": "A searchset (or history) Bundle: one page, link 'next' to the following",
                "content": fhir_content(schema_ref("Bundle")),
            },
            "Bundle.response": {
                "description": "A batch-response or transaction-response Bundle",
                "content": fhir_content(schema_ref("Bundle")),
            },
        },
        "requestBodies": {
            "Patch": {
                "required": True,
                "description": "JSON Patch, JSON merge patch (also as application/json) or FHIRPath Patch",
                "content": {
                    "application/json-patch+json": {"schema": schema_ref("JsonPatch")},
                    "application/merge-patch+json": {"schema": schema_ref("MergePatch")},
                    "application/json": {"schema": schema_ref("MergePatch")},
                    FHIR_JSON: {"schema": schema_ref("Parameters")},
                },
            },
            "SearchForm": {
                "description": "The search parameters, form-encoded (as in the query string of a GET)",
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                },
            },
            "Bundle.batch": {
                "required": True,
                "description": "A batch or transaction Bundle",
                "content": fhir_content(schema_ref("Bundle"), {"transaction": "Transaction"}),
            },
        },
        "securitySchemes": {
            "smart": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A SMART on FHIR access token (fhir-server dev-token, or /oauth/token)",
            }
        },
    }


def type_components(resource_type: str, components: JsonDict) -> None:
    """The response and request bodies of one resource type, added to ``components``."""
    example = resource_type if resource_type in components["examples"] else None
    components["responses"][resource_type] = {
        "description": f"The {resource_type} (as Prefer: return= asks for a write)",
        "headers": {name: ref(HEADERS, name) for name in ("ETag", "Last-Modified", "Location")},
        "content": fhir_content(schema_ref(resource_type)),
    }
    components["requestBodies"][resource_type] = {
        "required": True,
        "content": fhir_content(schema_ref(resource_type), {resource_type: example} if example else None),
    }
    components["requestBodies"][f"{resource_type}.update"] = {
        "required": True,
        "description": "The resource, with the id of the URL",
        "content": fhir_content(
            schema_ref(resource_type), {resource_type: f"{example}.update"} if example else None
        ),
    }
