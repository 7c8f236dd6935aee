"""The CapabilityStatement, generated from what the server really supports (never hand-written).

The OpenAPI document is generated from the same ``ServerCapabilities`` so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fhir_server import __version__
from fhir_server.interactions.metadata import PublishedStatement
from fhir_server.interactions.operation import Level, OperationSpec

FHIR_VERSION = "4.3.0"

TYPE_INTERACTIONS = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
]
SYSTEM_INTERACTIONS = ["transaction", "batch", "search-system", "history-system"]


class SearchParamLike(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def documentation(self) -> str: ...

    @property
    def modifiers(self) -> tuple[str, ...]: ...


class CapabilityRegistry(Protocol):
    @property
    def version(self) -> int:
        """Bumped by every change (a custom SearchParameter stored at run time)."""
        ...

    def resource_types(self) -> list[str]: ...

    def search_parameters(self, resource_type: str) -> Sequence[SearchParamLike]: ...

    def compartment_types(self) -> list[str]: ...

    def compartment_member_types(self, compartment_type: str) -> list[str]: ...


@dataclass
class ServerCapabilities:
    """Everything the server declares: types, their search parameters, operations, profiles, security."""

    base_url: str
    registry: CapabilityRegistry
    operations: list[OperationSpec]
    security: dict[str, Any] | None = None
    profiles_by_type: dict[str, list[str]] = field(default_factory=dict)
    # More of what a type's entry says (documentation, profiles), e.g. how subscriptions deliver.
    resource_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _published: tuple[int, PublishedStatement] | None = field(default=None, init=False, repr=False)

    def published(self) -> PublishedStatement:
        """The statement and its digest, built once per registry version (building it takes
        ~100 ms; /metadata is asked for by every client on connect)."""
        version = self.registry.version
        if self._published is None or self._published[0] != version:
            self._published = (version, PublishedStatement.of(self.statement()))
        return self._published[1]

    def operations_for(self, resource_type: str | None) -> list[OperationSpec]:
        if resource_type is None:
            return [op for op in self.operations if Level.SYSTEM in op.levels]
        return [
            op
            for op in self.operations
            if (Level.TYPE in op.levels or Level.INSTANCE in op.levels)
            and (op.resource_types is None or resource_type in op.resource_types)
        ]

    def compartments(self) -> dict[str, list[str]]:
        """Compartment type -> the resource types that can belong to one."""
        registry = self.registry
        return {name: registry.compartment_member_types(name) for name in registry.compartment_types()}

    def statement(self) -> dict[str, Any]:
        rest: dict[str, Any] = {
            "mode": "server",
            "documentation": "FHIR R4B RESTful API for clinics; JSON only.",
            "resource": [self._resource(resource_type) for resource_type in self.registry.resource_types()],
            "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
            "searchParam": [
                {"name": "_type", "type": "token", "documentation": "Resource types searched at system level"}
            ],
            "operation": [_operation(op, None) for op in self.operations_for(None)],
        }
        if self.security:
            rest["security"] = self.security
        statement: dict[str, Any] = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-24",
            "publisher": "fhir-server for clinics",
            "kind": "instance",
            "software": {"name": "fhir-server", "version": __version__},
            "implementation": {"description": "FHIR server for clinics", "url": self.base_url},
            "fhirVersion": FHIR_VERSION,
            "format": ["json", "application/fhir+json"],
            "patchFormat": ["application/json-patch+json", "application/fhir+json"],
            "rest": [rest],
        }
        instantiates = sorted({url for op in self.operations for url in op.instantiates})
        if instantiates:
            statement["instantiates"] = instantiates
        return statement

    def _resource(self, resource_type: str) -> dict[str, Any]:
        params = self.registry.search_parameters(resource_type)
        entry: dict[str, Any] = {
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "full-support",
            "conditionalUpdate": True,
            "conditionalDelete": "multiple",
            "referencePolicy": ["literal", "local"],
            "searchInclude": ["*"] + [f"{resource_type}:{p.code}" for p in params if p.type == "reference"],
            "searchRevInclude": ["*"],
            "searchParam": [_search_param(p) for p in params if p.code not in {"_has", "_type"}],
        }
        notes = self.resource_notes.get(resource_type, {})
        supported = [*self.profiles_by_type.get(resource_type, []), *notes.get("supportedProfile", [])]
        if supported:
            entry["supportedProfile"] = supported
        if "documentation" in notes:
            entry["documentation"] = notes["documentation"]
        if operations := self.operations_for(resource_type):
            entry["operation"] = [_operation(op, resource_type) for op in operations]
        return entry


def _search_param(param: SearchParamLike) -> dict[str, Any]:
    declared: dict[str, Any] = {"name": param.code, "type": param.type}
    if param.url:
        declared["definition"] = param.url
    if param.documentation:
        declared["documentation"] = param.documentation
    return declared


def _operation(op: OperationSpec, resource_type: str | None) -> dict[str, Any]:
    definition = op.definition_for(resource_type)
    return {"name": op.name, "definition": definition.get("url", f"OperationDefinition/{op.name}")}
