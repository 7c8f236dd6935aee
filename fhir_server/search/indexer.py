"""SearchIndexer: a resource -> its ``ix`` index entries and ``comp`` compartment memberships.

Called on every write (and by ``$reindex``), so per resource type the registry's parameters are
compiled once into (code, path function, encoder) plans; extraction is then plain dict walking.
The plans are rebuilt when the registry changes (a custom SearchParameter was added).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from fhir_server.conformance.registry import ConformanceRegistry, SearchParamDef
from fhir_server.search import encoders
from fhir_server.search import fields as f
from fhir_server.search.encoders import Encoder
from fhir_server.search.encoders_ordered import EncodeContext, Index
from fhir_server.search.fhirpath import PathFn, compile_expression

logger = logging.getLogger(__name__)

# Stored elsewhere in the document: `_id` is the document id, `_lastUpdated` is `lu`.
_NOT_IN_INDEX = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True)
class _Simple:
    code: str
    path: PathFn
    encode: Encoder


@dataclass(frozen=True)
class _Component:
    type: str
    path: PathFn


@dataclass(frozen=True)
class _Composite:
    code: str
    focus: PathFn
    components: tuple[_Component, ...]


@dataclass(frozen=True)
class _Plan:
    version: int
    simple: tuple[_Simple, ...]
    composites: tuple[_Composite, ...]
    compartment_links: tuple[tuple[str, tuple[_Simple, ...]], ...]  # (compartment type, params)


class SearchIndexer:
    """Pure and synchronous; safe to share between requests."""

    def __init__(self, registry: ConformanceRegistry, *, base_url: str | None = None) -> None:
        if base_url is None:
            from fhir_server.settings import get_settings

            base_url = get_settings().base_url
        self.registry = registry
        self.context = EncodeContext(base_url=base_url.rstrip("/"))
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    # ----- public API ----------------------------------------------------------------------------

    def extract(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The ``ix`` sub-document for a resource (see ``fhir_server.search.fields``)."""
        plan = self._plan(resource["resourceType"])
        ix: Index = {}
        context = self.context
        for simple in plan.simple:
            values = simple.path(resource)
            if values:
                simple.encode(simple.code, values, ix, context)
        for composite in plan.composites:
            self._encode_composite(composite, resource, ix)
        return ix

    def compartments(self, resource: dict[str, Any]) -> list[str]:
        """Compartments the resource belongs to, e.g. ["Patient/123", "Encounter/9"]."""
        resource_type = resource["resourceType"]
        plan = self._plan(resource_type)
        found: list[str] = []
        own_id = resource.get("id")
        for compartment_type, params in plan.compartment_links:
            if compartment_type == resource_type and isinstance(own_id, str):
                found.append(f"{resource_type}/{own_id}")
            scratch: Index = {}
            for simple in params:
                values = simple.path(resource)
                if values:
                    simple.encode(simple.code, values, scratch, self.context)
                    found.extend(encoders.local_references(scratch.get(simple.code, []), compartment_type))
        found.extend(self._security_context(resource))
        return list(dict.fromkeys(found))

    def _security_context(self, resource: dict[str, Any]) -> list[str]:
        """A Binary is in no official compartment; its securityContext (the patient or the document it
        belongs to) decides who may see it, so it counts as membership of that compartment."""
        if resource["resourceType"] != "Binary":
            return []
        context = resource.get("securityContext")
        reference = context.get("reference") if isinstance(context, dict) else None
        if not isinstance(reference, str):
            return []
        key = encoders.normalize_reference(reference, self.context.base_url)
        owners = self.registry.compartment_types()
        return [key] if key is not None and key.split("/", 1)[0] in owners else []

    def index(self, resource: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Both at once (what a write stores)."""
        return self.extract(resource), self.compartments(resource)

    # ----- plans ---------------------------------------------------------------------------------

    def _plan(self, resource_type: str) -> _Plan:
        plan = self._plans.get(resource_type)
        if plan is not None and plan.version == self.registry.version:
            return plan
        with self._lock:
            plan = self._build(resource_type)
            self._plans[resource_type] = plan
        return plan

    def _build(self, resource_type: str) -> _Plan:
        version = self.registry.version
        simple: list[_Simple] = []
        composites: list[_Composite] = []
        by_code: dict[str, _Simple] = {}
        for param in self.registry.search_parameters(resource_type):
            if not param.searchable or param.code in _NOT_IN_INDEX:
                continue
            if param.type == "composite":
                composite = self._composite(resource_type, param)
                if composite is not None:
                    composites.append(composite)
                continue
            encoder = encoders.ENCODERS.get(param.type)
            if encoder is None or param.expression is None:
                continue
            entry = _Simple(param.code, compile_expression(param.expression), encoder)
            simple.append(entry)
            by_code[param.code] = entry
        links: list[tuple[str, tuple[_Simple, ...]]] = []
        for compartment_type in self.registry.compartment_types():
            codes = self.registry.compartment_params(compartment_type, resource_type)
            params = tuple(by_code[c] for c in codes if c in by_code and self._is_reference(resource_type, c))
            if params or compartment_type == resource_type:
                links.append((compartment_type, params))
        return _Plan(version, tuple(simple), tuple(composites), tuple(links))

    def _is_reference(self, resource_type: str, code: str) -> bool:
        param = self.registry.search_parameter(resource_type, code)
        return param is not None and param.type == "reference"

    def _composite(self, resource_type: str, param: SearchParamDef) -> _Composite | None:
        components: list[_Component] = []
        for component in param.components:
            definition = self.registry.search_parameter_by_url(resource_type, component.definition)
            if definition is None:
                logger.warning("composite %s: unknown component %s", param.code, component.definition)
                return None
            components.append(
                _Component(definition.type, compile_expression(component.expression, rooted=False))
            )
        if param.expression is None or len(components) < 2:
            return None
        return _Composite(param.code, compile_expression(param.expression), tuple(components))

    def _encode_composite(self, composite: _Composite, resource: dict[str, Any], ix: Index) -> None:
        """Main entries: ``first$`` (narrowing) and full ``first$second`` combinations when every
        component is token-like; residual records ``{"k": [...], "c1": {...}, ...}`` for the rest."""
        entries: set[str] = set()
        records: list[dict[str, Any]] = []
        equality_only = all(c.type in ("token", "reference", "uri") for c in composite.components)
        for focus in composite.focus(resource):
            parts = []
            for component in composite.components:
                data = encoders.component_entry(component.type, component.path(focus), self.context)
                if data is None:
                    break
                parts.append(data)
            else:
                keys: list[str] = parts[0]["e"]
                entries.update(k + "$" for k in keys)
                if equality_only:
                    combos = keys
                    for part in parts[1:]:
                        combos = [f"{c}${e}" for c in combos for e in part["e"]]
                    entries.update(combos)
                else:
                    record: dict[str, Any] = {"k": keys}
                    for position, part in enumerate(parts[1:], start=1):
                        record[f"c{position}"] = part
                    records.append(record)
        if entries:
            ix[composite.code] = list(entries)
        if records:
            ix[composite.code + f.RESIDUAL] = records
