"""The OpenAPI document, generated per resource type from the same ServerCapabilities as /metadata.

FastAPI's own schema sees only generic ``/fhir/{resource_type}`` routes; here every type gets its
interactions, its search parameters and its operations, with FHIR media types and examples.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from fhir_server.capabilities import ServerCapabilities
from fhir_server.interactions.operation import Level, OperationSpec

FHIR_JSON = "application/fhir+json"
_GENERIC_PREFIX = "/fhir/{"


def _resource_body(resource_type: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            FHIR_JSON: {
                "schema": {"$ref": f"#/components/schemas/{resource_type}"},
                "example": {"resourceType": resource_type},
            }
        },
    }


def _answer(description: str, schema: str = "Resource") -> dict[str, Any]:
    return {
        "description": description,
        "content": {FHIR_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ERRORS = {
    "400": _answer("Invalid request", "OperationOutcome"),
    "401": _answer("Missing or invalid token", "OperationOutcome"),
    "403": _answer("Scope does not allow this", "OperationOutcome"),
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _search_parameters(capabilities: ServerCapabilities, resource_type: str) -> list[dict[str, Any]]:
    declared = capabilities.registry.search_parameters(resource_type)
    params = [
        {
            "name": param.code,
            "in": "query",
            "required": False,
            "description": f"{param.type} search parameter. {param.documentation or ''}".strip(),
            "schema": {"type": "string"},
        }
        for param in declared
        if param.code not in {"_type"}
    ]
    for name, description in (
        ("_count", "Page size"),
        ("_sort", "Sort keys, '-' for descending"),
        ("_include", "Include referenced resources"),
        ("_revinclude", "Include referencing resources"),
        ("_summary", "true | data | text | count | false"),
        ("_elements", "Comma-separated elements to return"),
        ("_total", "none | estimate | accurate"),
    ):
        params.append({"name": name, "in": "query", "description": description, "schema": {"type": "string"}})
    return params


def _type_paths(capabilities: ServerCapabilities, resource_type: str) -> dict[str, Any]:
    tag = [resource_type]
    base = f"/fhir/{resource_type}"
    return {
        base: {
            "get": {
                "tags": tag,
                "summary": f"Search {resource_type}",
                "operationId": f"search{resource_type}",
                "parameters": _search_parameters(capabilities, resource_type),
                "responses": {"200": _answer("searchset Bundle", "Bundle"), **_ERRORS},
            },
            "post": {
                "tags": tag,
                "summary": f"Create {resource_type}",
                "operationId": f"create{resource_type}",
                "parameters": [{"name": "If-None-Exist", "in": "header", "schema": {"type": "string"}}],
                "requestBody": _resource_body(resource_type),
                "responses": {"201": _answer("Created", resource_type), **_ERRORS},
            },
        },
        f"{base}/_search": {
            "post": {
                "tags": tag,
                "summary": f"Search {resource_type} (form POST)",
                "operationId": f"searchPost{resource_type}",
                "requestBody": {
                    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
                },
                "responses": {"200": _answer("searchset Bundle", "Bundle"), **_ERRORS},
            }
        },
        f"{base}/{{id}}": {
            "parameters": [_ID],
            "get": {
                "tags": tag,
                "summary": f"Read {resource_type}",
                "operationId": f"read{resource_type}",
                "responses": {
                    "200": _answer("The resource", resource_type),
                    "404": _answer("Unknown", "OperationOutcome"),
                    "410": _answer("Deleted", "OperationOutcome"),
                },
            },
            "put": {
                "tags": tag,
                "summary": f"Update {resource_type}",
                "operationId": f"update{resource_type}",
                "parameters": [{"name": "If-Match", "in": "header", "schema": {"type": "string"}}],
                "requestBody": _resource_body(resource_type),
                "responses": {
                    "200": _answer("Updated", resource_type),
                    "201": _answer("Created", resource_type),
                    **_ERRORS,
                },
            },
            "patch": {
                "tags": tag,
                "summary": f"Patch {resource_type}",
                "operationId": f"patch{resource_type}",
                "requestBody": {
                    "content": {
                        "application/json-patch+json": {
                            "schema": {"type": "array", "items": {"type": "object"}}
                        },
                        FHIR_JSON: {"schema": {"$ref": "#/components/schemas/Resource"}},
                    }
                },
                "responses": {"200": _answer("Patched", resource_type), **_ERRORS},
            },
            "delete": {
                "tags": tag,
                "summary": f"Delete {resource_type}",
                "operationId": f"delete{resource_type}",
                "responses": {
                    "204": {"description": "Deleted"},
                    "409": _answer("Still referenced", "OperationOutcome"),
                },
            },
        },
        f"{base}/{{id}}/_history": {
            "parameters": [_ID],
            "get": {
                "tags": tag,
                "summary": f"History of one {resource_type}",
                "operationId": f"history{resource_type}",
                "responses": {"200": _answer("history Bundle", "Bundle")},
            },
        },
        f"{base}/{{id}}/_history/{{vid}}": {
            "parameters": [
                _ID,
                {"name": "vid", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "tags": tag,
                "summary": f"Read a version of {resource_type}",
                "operationId": f"vread{resource_type}",
                "responses": {"200": _answer("The version", resource_type)},
            },
        },
        f"{base}/_history": {
            "get": {
                "tags": tag,
                "summary": f"History of all {resource_type}",
                "operationId": f"typeHistory{resource_type}",
                "responses": {"200": _answer("history Bundle", "Bundle")},
            }
        },
    }


def _operation_paths(op: OperationSpec, resource_type: str | None) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    levels = (
        [Level.SYSTEM]
        if resource_type is None
        else [lv for lv in (Level.TYPE, Level.INSTANCE) if lv in op.levels]
    )
    for level in levels:
        path = {
            Level.SYSTEM: f"/fhir/${op.name}",
            Level.TYPE: f"/fhir/{resource_type}/${op.name}",
            Level.INSTANCE: f"/fhir/{resource_type}/{{id}}/${op.name}",
        }[level]
        item: dict[str, Any] = {
            "post": {
                "tags": [resource_type or "system"],
                "summary": f"${op.name}",
                "description": str(op.definition.get("description", "")),
                "operationId": f"op_{op.name}_{resource_type or 'system'}_{level.value}".replace("-", "_"),
                "requestBody": {
                    "content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/Parameters"}}}
                },
                "responses": {"200": _answer("Result", "Resource"), **_ERRORS},
            }
        }
        if level == Level.INSTANCE:
            item["parameters"] = [_ID]
        paths[path] = item
    return paths


def fhir_openapi(app: FastAPI, capabilities: ServerCapabilities) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    paths = {
        path: item for path, item in schema.get("paths", {}).items() if not path.startswith(_GENERIC_PREFIX)
    }
    schemas: dict[str, Any] = {
        name: {
            "type": "object",
            "properties": {"resourceType": {"type": "string"}},
            "additionalProperties": True,
        }
        for name in ("Resource", "Bundle", "OperationOutcome", "Parameters")
    }
    for resource_type in capabilities.registry.resource_types():
        schemas[resource_type] = {
            "type": "object",
            "required": ["resourceType"],
            "properties": {"resourceType": {"type": "string", "enum": [resource_type]}},
            "additionalProperties": True,
            "externalDocs": {"url": f"https://hl7.org/fhir/R4B/{resource_type.lower()}.html"},
        }
        paths.update(_type_paths(capabilities, resource_type))
        for op in capabilities.operations_for(resource_type):
            paths.update(_operation_paths(op, resource_type))
    for op in capabilities.operations_for(None):
        paths.update(_operation_paths(op, None))
    schema["paths"] = paths
    schema.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    schema["components"]["securitySchemes"] = {
        "smart": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "SMART on FHIR access token",
        }
    }
    schema["security"] = [{"smart": []}]
    return schema
