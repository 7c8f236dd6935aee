"""How a FHIR ``$operation`` is declared: its OperationDefinition beside its handler.

Each module in this package that defines a module-level ``OPERATIONS: list[OperationSpec]`` is
discovered when the app is created (not at import time) and routed at the levels it declares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.context import RequestContext


class Level(StrEnum):
    SYSTEM = "system"
    TYPE = "type"
    INSTANCE = "instance"


@dataclass(frozen=True)
class OperationCall:
    """One invocation. ``parameters`` is a FHIR Parameters resource built from the query string (GET,
    form POST) or the JSON body; ``body`` is the raw JSON body when it was not a Parameters resource
    (e.g. a resource POSTed to $validate), else None. ``request`` gives access to app.state services and,
    for operations that stream or take multipart uploads, the raw request (its body not yet read when
    the spec says ``raw_body=True``)."""

    ctx: RequestContext
    request: Request
    resource_type: str | None
    resource_id: str | None
    parameters: dict[str, Any]
    body: dict[str, Any] | None


Handler = Callable[[OperationCall], Awaitable[dict[str, Any] | Response]]


@dataclass(frozen=True)
class OperationSpec:
    name: str  # without the "$"
    definition: dict[str, Any]  # the OperationDefinition resource advertised in /metadata
    levels: frozenset[Level]
    handler: Handler
    resource_types: tuple[str, ...] | None = None  # None: every type
    affects_state: bool = False  # True: GET is refused (405), POST only
    raw_body: bool = False  # True: the body is left unread for the handler (multipart, binary)


def parameter_values(parameters: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """All ``Parameters.parameter`` entries with this name."""
    return [p for p in parameters.get("parameter", []) if p.get("name") == name]


def first_value(parameters: dict[str, Any], name: str) -> Any:
    """The ``value[x]`` (or ``resource``) of the first parameter with this name, or None."""
    for entry in parameter_values(parameters, name):
        if "resource" in entry:
            return entry["resource"]
        for key, value in entry.items():
            if key.startswith("value"):
                return value
    return None
