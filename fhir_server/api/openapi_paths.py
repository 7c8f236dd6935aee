"""The paths of the OpenAPI document: per resource type its interactions (with its search
parameters), its ``$operations``, the compartments, and the system level. Bodies, responses and
parameters are ``$ref``s to :mod:`fhir_server.api.openapi_components`."""

from __future__ import annotations

import re
from typing import Any, Final

from fhir_server.api.openapi_components import (
    ANY_RESOURCE,
    EXAMPLES,
    FHIR_JSON,
    PARAMETERS,
    READ_CONTROLS,
    REQUEST_BODIES,
    RESPONSES,
    SEARCH_CONTROLS,
    JsonDict,
    ref,
    schema_ref,
)
from fhir_server.interactions.operation import Level, OperationSpec

DEFAULT: Final = {"default": ref(RESPONSES, "Error")}
# The data types an operation parameter can take in a query string (GET).
QUERY_TYPES: Final = frozenset(
    {
        "string",
        "code",
        "uri",
        "url",
        "canonical",
        "id",
        "date",
        "dateTime",
        "instant",
        "integer",
        "boolean",
        "decimal",
        "token",
        "reference",
    }
)
# A sensible Parameters value for each in-parameter type (Parameters.parameter.value[x]).
PARAMETER_VALUES: Final[dict[str, tuple[str, Any]]] = {
    "string": ("valueString", "example"),
    "code": ("valueCode", "example"),
    "uri": ("valueUri", "http://example.org/fhir/example"),
    "date": ("valueDate", "2026-01-01"),
    "dateTime": ("valueDateTime", "2026-01-05T09:30:00Z"),
    "instant": ("valueInstant", "2026-01-05T09:30:00Z"),
    "integer": ("valueInteger", 1),
    "Reference": ("valueReference", {"reference": "Slot/example"}),
    "CodeableConcept": ("valueCodeableConcept", {"text": "example"}),
}


def _refs(*names: str) -> list[JsonDict]:
    return [ref(PARAMETERS, name) for name in names]


def _responses(success: str, name: str, *extra: tuple[str, JsonDict]) -> JsonDict:
    return {success: ref(RESPONSES, name), **dict(extra), **DEFAULT}


def _op(tag: str, summary: str, operation_id: str, responses: JsonDict, **rest: Any) -> JsonDict:
    return {"tags": [tag], "summary": summary, "operationId": operation_id, **rest, "responses": responses}


def type_paths(resource_type: str, search_parameters: list[str]) -> dict[str, JsonDict]:
    """The interactions on one type; ``search_parameters``: the component names of its parameters."""
    t = resource_type
    base = f"/fhir/{t}"
    search = [*_refs(*search_parameters), *_refs(*SEARCH_CONTROLS)]
    not_modified = ("304", ref(RESPONSES, "NotModified"))
    item_reads = _refs(*READ_CONTROLS, "If-None-Match", "If-Modified-Since")
    return {
        base: {
            "get": _op(
                t,
                f"Search {t}",
                f"search{t}",
                _responses("200", "Bundle.search"),
                parameters=search,
            ),
            "post": _op(
                t,
                f"Create {t}",
                f"create{t}",
                _responses("201", t),
                description="Conditional create: If-None-Exist or a query string (POST ?identifier=...)",
                parameters=_refs("If-None-Exist", "Prefer"),
                requestBody=ref(REQUEST_BODIES, t),
            ),
            "put": _op(
                t,
                f"Conditional update of {t} (condition: a search query)",
                f"conditionalUpdate{t}",
                _responses("200", t, ("201", ref(RESPONSES, t))),
                parameters=_refs("If-Match", "Prefer"),
                requestBody=ref(REQUEST_BODIES, t),
            ),
            "patch": _op(
                t,
                f"Conditional patch of {t} (condition: a search query)",
                f"conditionalPatch{t}",
                _responses("200", t),
                parameters=_refs("If-Match", "Prefer"),
                requestBody=ref(REQUEST_BODIES, "Patch"),
            ),
            "delete": _op(
                t,
                f"Conditional delete of {t} (condition: a search query)",
                f"conditionalDelete{t}",
                _responses("204", "Deleted"),
            ),
        },
        f"{base}/_search": {
            "post": _op(
                t,
                f"Search {t} (form POST)",
                f"searchPost{t}",
                _responses("200", "Bundle.search"),
                requestBody=ref(REQUEST_BODIES, "SearchForm"),
            )
        },
        f"{base}/_history": {
            "get": _op(t, f"History of every {t}", f"typeHistory{t}", _responses("200", "Bundle.search"))
        },
        f"{base}/{{id}}": {
            "parameters": _refs("id"),
            "get": _op(t, f"Read {t}", f"read{t}", _responses("200", t, not_modified), parameters=item_reads),
            "put": _op(
                t,
                f"Update {t} (or create it with this id)",
                f"update{t}",
                _responses("200", t, ("201", ref(RESPONSES, t))),
                parameters=_refs("If-Match", "Prefer"),
                requestBody=ref(REQUEST_BODIES, f"{t}.update"),
            ),
            "patch": _op(
                t,
                f"Patch {t}",
                f"patch{t}",
                _responses("200", t),
                parameters=_refs("If-Match", "Prefer"),
                requestBody=ref(REQUEST_BODIES, "Patch"),
            ),
            "delete": _op(t, f"Delete {t}", f"delete{t}", _responses("204", "Deleted")),
        },
        f"{base}/{{id}}/_history": {
            "parameters": _refs("id"),
            "get": _op(t, f"History of one {t}", f"history{t}", _responses("200", "Bundle.search")),
        },
        f"{base}/{{id}}/_history/{{vid}}": {
            "parameters": _refs("id", "vid"),
            "get": _op(
                t,
                f"Read a version of {t}",
                f"vread{t}",
                _responses("200", t, not_modified),
                parameters=item_reads,
            ),
        },
    }


def binary_content(paths: dict[str, JsonDict]) -> None:
    """Binary takes and gives raw bytes as well as its FHIR JSON form."""
    raw = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    for path, method in (("/fhir/Binary", "post"), ("/fhir/Binary/{id}", "put")):
        operation = paths[path][method]
        operation["requestBody"] = {
            "required": True,
            "description": "The bytes with their own Content-Type (streamed to the blob store), or a Binary",
            "content": {**raw, FHIR_JSON: {"schema": schema_ref("Binary")}},
        }
    for path in ("/fhir/Binary/{id}", "/fhir/Binary/{id}/_history/{vid}"):
        operation = paths[path]["get"]
        operation["description"] = (
            "The bytes with their own Content-Type (Range requests: 206), unless the client asks "
            "for FHIR JSON (Accept: application/fhir+json or _format)."
        )
        operation["responses"]["200"] = {
            "description": "The content, or the Binary resource",
            "content": {**raw, FHIR_JSON: {"schema": schema_ref("Binary")}},
        }
        operation["responses"]["206"] = {"description": "The range asked for", "content": raw}


def compartment_paths(compartments: dict[str, list[str]]) -> dict[str, JsonDict]:
    paths: dict[str, JsonDict] = {}
    for compartment, members in sorted(compartments.items()):
        paths[f"/fhir/{compartment}/{{id}}/{{type}}"] = {
            "get": _op(
                compartment,
                f"Search in one {compartment}'s compartment",
                f"compartmentSearch{compartment}",
                _responses("200", "Bundle.search"),
                description=f"The resources of a type (or * for all) that belong to this {compartment}.",
                parameters=[
                    *_refs("id"),
                    {
                        "name": "type",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["*", *sorted(members)]},
                    },
                    *_refs(*SEARCH_CONTROLS),
                ],
            )
        }
    return paths


def system_paths() -> dict[str, JsonDict]:
    return {
        "/fhir": {
            "post": _op(
                "system",
                "Batch or transaction",
                "batchOrTransaction",
                _responses("200", "Bundle.response"),
                description="A transaction: all or nothing. A batch: each entry on its own.",
                requestBody=ref(REQUEST_BODIES, "Bundle.batch"),
            ),
            "get": _op(
                "system",
                "Search across types",
                "searchSystem",
                _responses("200", "Bundle.search"),
                parameters=[
                    {
                        "name": "_type",
                        "in": "query",
                        "description": "Comma-separated resource types",
                        "schema": {"type": "string"},
                    },
                    *_refs("Resource-id", "Resource-lastUpdated", *SEARCH_CONTROLS),
                ],
            ),
        },
        "/fhir/_search": {
            "post": _op(
                "system",
                "Search across types (form POST)",
                "searchSystemPost",
                _responses("200", "Bundle.search"),
                requestBody=ref(REQUEST_BODIES, "SearchForm"),
            ),
        },
        "/fhir/_history": {
            "get": _op("system", "History of everything", "historySystem", _responses("200", "Bundle.search"))
        },
        "/fhir/metadata": {
            "get": _op(
                "system",
                "The CapabilityStatement",
                "capabilities",
                _responses("200", "CapabilityStatement", ("304", ref(RESPONSES, "NotModified"))),
                description=(
                    "What this server supports. _summary=true gives the summary elements only (types, "
                    "profiles, operations: a few kB); an ETag comes with it, If-None-Match answers 304."
                ),
                parameters=_refs("_summary", "_elements", "If-None-Match"),
                security=[],
            )
        },
    }


# ----- $operations -------------------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def _in_parameters(op: OperationSpec) -> list[JsonDict]:
    return [p for p in op.definition.get("parameter", []) if p.get("use") == "in"]


def _parameter_lines(op: OperationSpec) -> str:
    lines = []
    for p in op.definition.get("parameter", []):
        doc = f": {p['documentation']}" if p.get("documentation") else ""
        lines.append(f"- {p['use']} `{p['name']}` ({p.get('type', 'parts')}, {p['min']}..{p['max']}){doc}")
    return "\n".join(lines)


def _description(op: OperationSpec, resource_type: str | None) -> str:
    """The whole description and parameter list; for an operation on every type, the first
    sentence and the parameter names (the same text 141 times would be a third of the document)."""
    text = str(op.definition.get("description", ""))
    if op.resource_types is None and resource_type is not None:
        names = ", ".join(p["name"] for p in op.definition.get("parameter", []) if p.get("use") == "in")
        first = re.split(r"(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z])", text, maxsplit=1)[0].rstrip(".")
        return f"{first}. In: {names}." if names else f"{first}."
    return f"{text}\n\n{_parameter_lines(op)}".strip()


def _parameters_example(op: OperationSpec) -> JsonDict | None:
    """A Parameters body with the required in-parameters, or None when a type cannot be shown."""
    parameters = []
    for p in _in_parameters(op):
        if p["min"] < 1:
            continue
        value = PARAMETER_VALUES.get(p.get("type", ""))
        if value is None:
            return None
        parameters.append({"name": p["name"], value[0]: value[1]})
    return {"resourceType": "Parameters", **({"parameter": parameters} if parameters else {})}


def _request_body(op: OperationSpec, resource_type: str | None, examples: set[str]) -> JsonDict:
    inputs = _in_parameters(op)
    if op.raw_body:
        properties = {
            p["name"]: {"type": "string", "format": "binary"}
            if p.get("type") == "Attachment"
            else {"type": "string"}
            for p in inputs
        }
        required = [p["name"] for p in inputs if p["min"] >= 1]
        schema = {"type": "object", "properties": properties, "required": required}
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    takes_resource = any(p.get("type") == "Resource" for p in inputs)
    resource_schema = schema_ref(resource_type or ANY_RESOURCE)
    # anyOf: a Parameters body is both when the resource validated is a Parameters
    schema = (
        {"anyOf": [schema_ref("Parameters"), resource_schema]} if takes_resource else schema_ref("Parameters")
    )
    media: JsonDict = {"schema": schema}
    if takes_resource and resource_type in examples:
        media["examples"] = {resource_type: ref(EXAMPLES, resource_type)}
    elif (example := _parameters_example(op)) is not None:
        media["example"] = example
    return {"required": False, "content": {FHIR_JSON: media}}


def _output_schema(op: OperationSpec) -> JsonDict:
    outputs = [p for p in op.definition.get("parameter", []) if p.get("use") == "out"]
    if len(outputs) == 1 and outputs[0]["name"] == "return":
        out_type = outputs[0].get("type", "Resource")
        return schema_ref(ANY_RESOURCE if out_type == "Resource" else out_type)
    return schema_ref("Parameters")


def operation_paths(op: OperationSpec, resource_type: str | None, examples: set[str]) -> dict[str, JsonDict]:
    """The paths of one ``$operation`` on one type (or the system level when ``resource_type`` is None)."""
    if resource_type is None:
        levels = [Level.SYSTEM]
    else:
        levels = [level for level in (Level.TYPE, Level.INSTANCE) if level in op.levels]
    tag = resource_type or "system"
    description = _description(op, resource_type)
    if op.administrative:
        description += "\n\nAdministrators only (user/*.cruds or system/*.cruds)."
    responses = {"200": {"description": "The result", "content": {FHIR_JSON: {"schema": _output_schema(op)}}}}
    paths: dict[str, JsonDict] = {}
    for level in levels:
        path = {
            Level.SYSTEM: f"/fhir/${op.name}",
            Level.TYPE: f"/fhir/{resource_type}/${op.name}",
            Level.INSTANCE: f"/fhir/{resource_type}/{{id}}/${op.name}",
        }[level]
        operation_id = f"{_camel(op.name)}{level.value.capitalize()}{resource_type or ''}"
        summary = f"${op.name}: {op.definition.get('title') or op.definition.get('name', '')}"
        item: JsonDict = {
            "post": _op(
                tag,
                summary,
                operation_id,
                {**responses, **DEFAULT},
                description=description,
                requestBody=_request_body(op, resource_type, examples),
            )
        }
        query = [p for p in _in_parameters(op) if p.get("type") in QUERY_TYPES]
        if not op.affects_state and not op.raw_body and len(query) == len(_in_parameters(op)):
            parameters = [
                {"name": p["name"], "in": "query", "required": p["min"] >= 1, "schema": {"type": "string"}}
                for p in query
            ]
            item["get"] = _op(
                tag,
                summary,
                f"{operation_id}Get",
                {**responses, **DEFAULT},
                description=description,
                parameters=parameters,
            )
        if level is Level.INSTANCE:
            item["parameters"] = _refs("id")
        paths[path] = item
    return paths
