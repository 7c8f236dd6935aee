"""The OpenAPI document: valid OpenAPI 3.1, real R4B schemas shared by ``$ref``, per-type interactions,
search parameters and operations, and examples that validate against their schemas (and that the
server accepts)."""

from __future__ import annotations

import gzip
import importlib.resources
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest

from fhir_server.main import create_app
from tests.support import make_settings

JsonDict = dict[str, Any]
COMPONENTS = "#/components/"


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> JsonDict:
    """The document of an app that never connects (it is built from the capabilities alone)."""
    app = create_app(make_settings("mongodb://unused.invalid", tmp_path_factory.mktemp("openapi")))
    return app.openapi()


def resolve(document: JsonDict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def media_types(document: JsonDict) -> Iterator[tuple[str, JsonDict]]:
    """Every media type object (request bodies and responses, in paths and components)."""
    holders: list[tuple[str, Any]] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            holders.append((f"{method} {path} body", operation.get("requestBody")))
            for status, answer in operation["responses"].items():
                holders.append((f"{method} {path} {status}", answer))
    for section in ("requestBodies", "responses"):
        for name, holder in document["components"][section].items():
            holders.append((f"{section}.{name}", holder))
    for label, holder in holders:
        content = resolve(document, holder or {}).get("content", {})
        for media, value in content.items():
            yield f"{label} {media}", value


def test_valid_openapi_31(document: JsonDict) -> None:
    meta = json.loads(
        importlib.resources.files("openapi_spec_validator")
        .joinpath("resources/schemas/v3.1/schema.json")
        .read_text(encoding="utf-8")
    )
    errors = [str(e)[:300] for e in jsonschema_rs.validator_for(meta).iter_errors(document)]
    assert errors == []
    assert document["openapi"].startswith("3.1")
    unresolved = {r for r in refs(document) if not r.startswith(COMPONENTS)}
    assert unresolved == set()
    for reference in set(refs(document)):
        assert resolve(document, {"$ref": reference}) is not None, reference
    operation_ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_real_schemas_each_once(document: JsonDict) -> None:
    schemas = document["components"]["schemas"]
    patient = schemas["Patient"]
    assert patient["additionalProperties"] is False
    assert patient["properties"]["resourceType"]["const"] == "Patient"
    assert patient["properties"]["birthDate"]["$ref"] == "#/components/schemas/date"
    assert patient["properties"]["contact"]["items"]["$ref"] == "#/components/schemas/Patient_Contact"
    assert schemas["HumanName"]["properties"]["family"]["description"]
    assert schemas["ResourceList"]["discriminator"]["mapping"]["Patient"] == "#/components/schemas/Patient"
    assert len(schemas) > 690
    used = {r.removeprefix("#/components/schemas/") for r in refs(document) if "/schemas/" in r}
    assert {"Patient", "Observation", "Bundle", "OperationOutcome", "Parameters"} <= used
    # nothing in the paths spells a resource schema out again: they only point at the components
    for item in document["paths"].values():
        assert '"additionalProperties":false' not in orjson.dumps(item).decode()


def test_small_for_what_it_holds(document: JsonDict) -> None:
    raw = orjson.dumps(document)
    assert len(raw) < 4_000_000 and len(gzip.compress(raw, 6)) < 400_000


def test_per_type_interactions_parameters_and_operations(document: JsonDict) -> None:
    paths = document["paths"]
    assert "/fhir/{resource_type}" not in paths and "/fhir/{path}" not in paths
    search = paths["/fhir/Patient"]["get"]
    names = {resolve(document, p)["name"] for p in search["parameters"]}
    assert {"birthdate", "family", "identifier", "_lastUpdated", "_count", "_total", "_include"} <= names
    birthdate = next(
        resolve(document, p) for p in search["parameters"] if resolve(document, p)["name"] == "birthdate"
    )
    assert birthdate["description"].startswith("date parameter")
    for method in ("get", "put", "patch", "delete"):
        assert method in paths["/fhir/Patient/{id}"]
    assert {"get", "post", "put", "patch", "delete"} <= set(paths["/fhir/Observation"])
    assert "/fhir/Patient/{id}/_history/{vid}" in paths and "/fhir/Patient/_history" in paths
    patch = resolve(document, paths["/fhir/Patient/{id}"]["patch"]["requestBody"])
    assert {"application/json-patch+json", "application/merge-patch+json", "application/json"} <= set(
        patch["content"]
    )
    # operations declared in fhir_server/operations, per type and level
    assert "/fhir/Appointment/$book" in paths and "/fhir/Appointment/{id}/$cancel" in paths
    assert "/fhir/Patient/$book" not in paths
    finance = paths["/fhir/Invoice/$finance-summary"]
    assert {p["name"] for p in finance["get"]["parameters"]} == {"start", "end"}
    assert "get" not in paths["/fhir/Appointment/$book"]  # it changes state: POST only
    upload = paths["/fhir/DocumentReference/$upload"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert "/fhir/Patient/{id}/$validate" in paths and "/fhir/$reindex" in paths
    assert paths["/fhir/metadata"]["get"]["security"] == []
    compartment = paths["/fhir/Patient/{id}/{type}"]["get"]["parameters"][1]["schema"]["enum"]
    assert "Observation" in compartment and "*" in compartment
    binary = paths["/fhir/Binary"]["post"]["requestBody"]["content"]
    assert "*/*" in binary and "application/fhir+json" in binary


class ExampleChecker:
    """Validates samples against the document's schemas. A resource schema is checked through
    "any resource" (a oneOf told apart by a const resourceType) plus the resourceType: the same
    verdict, with one validator compiled instead of 140 (each compiles all ~700 schemas)."""

    def __init__(self, document: JsonDict) -> None:
        self.components = document["components"]
        self.resource_types = set(self.components["schemas"]["ResourceList"]["discriminator"]["mapping"])
        self.compiled: dict[str, Any] = {}

    def _validator(self, schema: JsonDict) -> Any:
        key = orjson.dumps(schema).decode()
        if key not in self.compiled:
            self.compiled[key] = jsonschema_rs.Draft202012Validator({**schema, "components": self.components})
        return self.compiled[key]

    def errors(self, schema: JsonDict, sample: Any) -> list[str]:
        target = schema.get("$ref", "").removeprefix("#/components/schemas/")
        if target in self.resource_types:
            found = [
                str(e)[:200]
                for e in self._validator({"$ref": "#/components/schemas/ResourceList"}).iter_errors(sample)
            ]
            return found + (
                []
                if isinstance(sample, dict) and sample.get("resourceType") == target
                else [f"not a {target}"]
            )
        if "anyOf" in schema:
            branches = [self.errors(branch, sample) for branch in schema["anyOf"]]
            return [] if any(not b for b in branches) else [e for b in branches for e in b]
        return [str(e)[:200] for e in self._validator(schema).iter_errors(sample)]


def test_every_example_validates_against_its_schema(document: JsonDict) -> None:
    checker = ExampleChecker(document)
    checked = 0
    failures: list[str] = []
    for label, media in media_types(document):
        if "schema" not in media:
            continue
        samples = [media["example"]] if "example" in media else []
        samples += [resolve(document, e)["value"] for e in media.get("examples", {}).values()]
        for sample in samples:
            checked += 1
            if errors := checker.errors(media["schema"], sample):
                failures.append(f"{label}: {errors[0]}")
    assert failures == []
    assert checked > 400  # create and update bodies of ~140 types, $validate, errors, transactions
    examples = document["components"]["examples"]
    assert examples["Patient"]["value"]["resourceType"] == "Patient"
    assert examples["Patient.update"]["value"]["id"] == "example"
    assert checker.errors({"$ref": "#/components/schemas/Patient"}, {"resourceType": "Patient", "gender": 1})


async def test_the_server_accepts_every_create_example(client: httpx.AsyncClient) -> None:
    document = (await client.get("http://testserver/openapi.json")).json()
    examples = document["components"]["examples"]
    bodies = {
        name: resolve(document, media["examples"][name])["value"]
        for name, body in document["components"]["requestBodies"].items()
        if "." not in name and (media := body["content"].get("application/fhir+json")) and "examples" in media
        and name in media["examples"]
    }  # fmt: skip
    assert len(bodies) >= 130 and "Patient" in bodies and examples
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": body, "request": {"method": "POST", "url": name}} for name, body in bodies.items()
        ],
    }
    response = await client.post(
        "/", content=orjson.dumps(batch), headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 200, response.text
    statuses = {
        name: entry["response"]["status"]
        for name, entry in zip(bodies, response.json()["entry"], strict=True)
    }
    refused = {name: status for name, status in statuses.items() if not status.startswith("201")}
    # Examples the clinic's rules refuse on purpose, with the status that says why.
    assert refused == {
        "AuditEvent": "405 Method Not Allowed",  # recorded by the server only
        "Appointment": "422 Unprocessable Entity",  # the official example is a booking in the past
        "Subscription": "400 Bad Request",  # no notification endpoint is allowed by default
        "SubscriptionTopic": "422 Unprocessable Entity",  # the official example fails validation
    }
    transaction = resolve(document, document["components"]["examples"]["Transaction"])["value"]
    done = await client.post(
        "/", content=orjson.dumps(transaction), headers={"Content-Type": "application/fhir+json"}
    )
    assert done.status_code == 200, done.text


def test_generated_spec_attribution() -> None:
    readme = (Path(__file__).resolve().parents[2] / "fhir_server" / "spec" / "README.md").read_text()
    assert "openapi_schemas.json.gz" in readme and "generate_api_spec.py" in readme
