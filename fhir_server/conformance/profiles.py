"""The clinic's conformance resources (``profiles/``): lookup by type, id and canonical URL.

Served read-only by the API (StructureDefinition, CodeSystem, ValueSet, SearchParameter) and read
by the validator. Only the folder's top-level files are resources; ``profiles/examples/`` holds
example instances, not definitions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from fhir_server.conformance.registry import profile_directories

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
CONFORMANCE_TYPES = frozenset({"StructureDefinition", "CodeSystem", "ValueSet", "SearchParameter"})


class ConformanceResources:
    """An immutable, indexed set of conformance resources."""

    def __init__(self, resources: Iterable[JsonDict]) -> None:
        self._by_type: dict[str, list[JsonDict]] = {}
        self._by_id: dict[tuple[str, str], JsonDict] = {}
        self._by_url: dict[str, JsonDict] = {}
        for resource in resources:
            resource_type = resource["resourceType"]
            self._by_type.setdefault(resource_type, []).append(resource)
            if "id" in resource:
                self._by_id[(resource_type, resource["id"])] = resource
            if "url" in resource:
                self._by_url[resource["url"]] = resource
                if "version" in resource:
                    self._by_url[f"{resource['url']}|{resource['version']}"] = resource

    @classmethod
    def from_directories(cls, directories: Iterable[Path] | None = None) -> ConformanceResources:
        """Load every conformance resource found at the top level of the directories
        (default: the repository's ``profiles/`` or the installed package's copy)."""
        found: list[JsonDict] = []
        for directory in directories if directories is not None else profile_directories():
            for path in sorted(directory.glob("*.json")):
                data = orjson.loads(path.read_bytes())
                if isinstance(data, dict) and data.get("resourceType") in CONFORMANCE_TYPES:
                    found.append(data)
                else:
                    logger.warning("skipping %s: not a conformance resource", path.name)
        return cls(found)

    def all_by_type(self, resource_type: str) -> list[JsonDict]:
        return list(self._by_type.get(resource_type, ()))

    def by_id(self, resource_type: str, resource_id: str) -> JsonDict | None:
        return self._by_id.get((resource_type, resource_id))

    def by_url(self, url: str) -> JsonDict | None:
        """The resource with this canonical URL (``url`` or ``url|version``)."""
        return self._by_url.get(url)

    def types(self) -> list[str]:
        return sorted(self._by_type)
