"""What the gate needs to know about a resource: its compartments and its token search values.

Both come from the search indexer (``fhir_server.search.indexer.SearchIndexer``), so the gate and the
search engine agree on what ``category=laboratory`` or "in Patient/1's compartment" means.
Granular scopes are evaluated here for **token** and **reference** parameters only (``category``,
``code``, ``status``, ``performer=Organization/lab`` ...); a granular scope naming another kind of
parameter allows nothing outside search (fail closed), while ``search_constraint`` hands any parameter
to the search engine.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.search.indexer import SearchIndexer

MATCHABLE_TYPES: Final = frozenset({"token", "reference"})


class ResourceFacts(Protocol):
    def compartments(self, resource: dict[str, Any]) -> list[str]:
        """Compartments the resource belongs to, like ``["Patient/1", "Encounter/7"]``."""

    def matches(self, resource: dict[str, Any], name: str, value: str) -> bool:
        """Does the resource match the token or reference search ``name=value``?"""

    @property
    def registry(self) -> ConformanceRegistry:
        """The search parameters (element rules refuse those reading hidden elements)."""


class IndexerFacts:
    """``ResourceFacts`` from the search indexer; without one, the shared registry loads on first use."""

    def __init__(self, indexer: SearchIndexer | None = None) -> None:
        self._indexer = indexer

    @classmethod
    def from_registry(cls, registry: ConformanceRegistry, base_url: str | None = None) -> IndexerFacts:
        return cls(SearchIndexer(registry, base_url=base_url))

    @property
    def indexer(self) -> SearchIndexer:
        if self._indexer is None:
            self._indexer = SearchIndexer(ConformanceRegistry.load())
        return self._indexer

    @property
    def registry(self) -> ConformanceRegistry:
        return self.indexer.registry

    def compartments(self, resource: dict[str, Any]) -> list[str]:
        return list(self.indexer.compartments(resource))

    def matches(self, resource: dict[str, Any], name: str, value: str) -> bool:
        """Token semantics as the search engine's: ``code``, ``system|code``, ``|code``, ``system|``
        are each precomputed index entries, so matching is membership; a reference matches its
        local ``Type/id`` the same way."""
        param = self.indexer.registry.search_parameter(str(resource.get("resourceType")), name)
        if param is None or param.type not in MATCHABLE_TYPES:
            return False
        entries = self.indexer.extract(resource).get(name) or []
        return value in entries
