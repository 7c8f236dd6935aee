"""What a FHIR request URL addresses, parsed once for every adapter (REST path or bundle entry URL).

``Patient/1/_history/2`` is a VERSION of ``Patient/1``; ``Patient/$validate`` a TYPE_OPERATION;
``Patient/1/Observation`` a COMPARTMENT search. The shapes are what the dispatch table is keyed by
(with the method), so the REST API and bundle entries reach the same handler for the same URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Shape(StrEnum):
    SYSTEM = "system"  # [base]
    SYSTEM_SEARCH = "system-search"  # [base]/_search
    SYSTEM_HISTORY = "system-history"  # [base]/_history
    SYSTEM_OPERATION = "system-operation"  # [base]/$op
    METADATA = "metadata"  # [base]/metadata
    TYPE = "type"  # [base]/Patient
    TYPE_SEARCH = "type-search"  # [base]/Patient/_search
    TYPE_HISTORY = "type-history"  # [base]/Patient/_history
    TYPE_OPERATION = "type-operation"  # [base]/Patient/$op
    INSTANCE = "instance"  # [base]/Patient/1
    INSTANCE_HISTORY = "instance-history"  # [base]/Patient/1/_history
    VERSION = "version"  # [base]/Patient/1/_history/2
    INSTANCE_OPERATION = "instance-operation"  # [base]/Patient/1/$op
    COMPARTMENT = "compartment"  # [base]/Patient/1/Observation, [base]/Patient/1/*


_TYPE_NAME: Final = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_OPERATION_NAME: Final = re.compile(r"^\$[a-z][A-Za-z0-9\-]{0,63}$")
_VERSION_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class NotAFhirPath(ValueError):
    """The path addresses nothing this server serves (the adapters answer 404 or 400)."""


@dataclass(frozen=True)
class Target:
    shape: Shape
    resource_type: str | None = None
    resource_id: str | None = None
    version: str | None = None
    operation: str | None = None  # without the "$"
    compartment_of: str | None = None  # COMPARTMENT: the searched type, or "*"

    @property
    def key(self) -> str | None:
        """``Type/id`` of an instance-level target."""
        if self.resource_type is None or self.resource_id is None:
            return None
        return f"{self.resource_type}/{self.resource_id}"

    def path(self) -> str:
        """The target as a path relative to the base (no leading slash)."""
        parts: list[str] = [p for p in (self.resource_type, self.resource_id) if p]
        if self.shape in {Shape.SYSTEM_HISTORY, Shape.TYPE_HISTORY, Shape.INSTANCE_HISTORY, Shape.VERSION}:
            parts.append("_history")
        if self.version:
            parts.append(self.version)
        if self.shape in {Shape.SYSTEM_SEARCH, Shape.TYPE_SEARCH}:
            parts.append("_search")
        if self.operation:
            parts.append(f"${self.operation}")
        if self.compartment_of:
            parts.append(self.compartment_of)
        if self.shape is Shape.METADATA:
            parts.append("metadata")
        return "/".join(parts)


def _type(name: str) -> str:
    if not _TYPE_NAME.match(name):
        raise NotAFhirPath(f"'{name}' is not a resource type")
    return name


def _id(value: str) -> str:
    """A segment in the id's place. Only what can be nothing else is refused here: a malformed id
    is "not known" to a read and a 400 to a write (``check_id``), as for any id."""
    if value.startswith(("_", "$")) or len(value) > 256:
        raise NotAFhirPath(f"'{value}' is not a resource id")
    return value


def _operation(segment: str) -> str:
    if not _OPERATION_NAME.match(segment):
        raise NotAFhirPath(f"'{segment}' is not an operation name")
    return segment[1:]


def parse_target(path: str) -> Target:
    """The target of a path relative to the FHIR base (``""``, ``Patient/1``, ``$export`` ...)."""
    segments = [segment for segment in path.strip("/").split("/") if segment] if path.strip("/") else []
    if not segments:
        return Target(Shape.SYSTEM)
    first, rest = segments[0], segments[1:]
    if not rest:
        if first == "_search":
            return Target(Shape.SYSTEM_SEARCH)
        if first == "_history":
            return Target(Shape.SYSTEM_HISTORY)
        if first == "metadata":
            return Target(Shape.METADATA)
        if first.startswith("$"):
            return Target(Shape.SYSTEM_OPERATION, operation=_operation(first))
        return Target(Shape.TYPE, _type(first))
    resource_type = _type(first)
    second = rest[0]
    if len(rest) == 1:
        if second == "_search":
            return Target(Shape.TYPE_SEARCH, resource_type)
        if second == "_history":
            return Target(Shape.TYPE_HISTORY, resource_type)
        if second.startswith("$"):
            return Target(Shape.TYPE_OPERATION, resource_type, operation=_operation(second))
        return Target(Shape.INSTANCE, resource_type, _id(second))
    resource_id = _id(second)
    third = rest[1]
    if len(rest) == 2:
        if third == "_history":
            return Target(Shape.INSTANCE_HISTORY, resource_type, resource_id)
        if third.startswith("$"):
            return Target(Shape.INSTANCE_OPERATION, resource_type, resource_id, operation=_operation(third))
        if third == "*":
            return Target(Shape.COMPARTMENT, resource_type, resource_id, compartment_of="*")
        return Target(Shape.COMPARTMENT, resource_type, resource_id, compartment_of=_type(third))
    if len(rest) == 3 and third == "_history":
        if not _VERSION_ID.match(rest[2]):
            raise NotAFhirPath(f"'{rest[2]}' is not a version id")
        return Target(Shape.VERSION, resource_type, resource_id, version=rest[2])
    raise NotAFhirPath(f"no FHIR interaction at '{path}'")
