"""ConformanceRegistry: the one source of truth for search parameters, compartments and types.

Both the write side (``fhir_server.search.indexer``) and the read side (``fhir_server.search``
translation) ask this registry; a search parameter exists once, as data, generated from the
official R4B definitions (``fhir_server/spec``) plus custom SearchParameter resources (shipped in
``profiles/`` or added at run time with :meth:`ConformanceRegistry.add_search_parameter`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import orjson

from fhir_server.conformance import spec_data
from fhir_server.errors import Unprocessable

logger = logging.getLogger(__name__)

PARAM_TYPES = frozenset(
    {"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"}
)
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
ORDERED_TYPES = frozenset({"number", "date", "quantity"})
_CODE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

# Modifiers we implement per parameter type (reference also takes any target type name).
SUPPORTED_MODIFIERS: dict[str, tuple[str, ...]] = {
    "string": ("missing", "exact", "contains"),
    "token": ("missing", "not", "text", "of-type"),
    "reference": ("missing", "identifier"),
    "date": ("missing",),
    "number": ("missing",),
    "quantity": ("missing",),
    "uri": ("missing", "below", "above"),
    "composite": ("missing",),
    "special": (),
}

# Parameters every resource type has, beyond those in the specification's "Resource" base.
_COMMON_SPECIAL = {
    "_has": "Reverse chaining: resources referenced by other resources matching a criterion.",
}
SYSTEM_ONLY = {"_type": "Resource types to search across (system-level search)."}


@dataclass(frozen=True)
class SearchParamComponent:
    definition: str  # canonical URL of the component's SearchParameter
    expression: str  # FHIRPath relative to the composite's expression


@dataclass(frozen=True)
class SearchParamDef:
    """A search parameter as it applies to one resource type (expression narrowed to that type)."""

    code: str
    type: str
    expression: str | None
    url: str
    targets: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    components: tuple[SearchParamComponent, ...] = ()
    documentation: str = ""
    base: tuple[str, ...] = ()
    custom: bool = False

    @property
    def searchable(self) -> bool:
        """True when the server can index it (has an expression and a supported type)."""
        return self.type != "special" and bool(self.expression)


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on top-level ``|`` (outside parentheses and string literals)."""
    parts: list[str] = []
    depth = 0
    quote = False
    start = 0
    for i, ch in enumerate(expression):
        if ch == "'" and (i == 0 or expression[i - 1] != "\\"):
            quote = not quote
        elif quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def expression_root(part: str) -> str:
    """The type name an expression part starts from: ``(Observation.value as X)`` -> Observation."""
    text = part.lstrip("( ")
    end = len(text)
    for i, ch in enumerate(text):
        if not (ch.isalnum() or ch == "_"):
            end = i
            break
    return text[:end]


def narrow_expression(expression: str | None, resource_type: str) -> str | None:
    """The parts of a (multi-base) expression that apply to ``resource_type``."""
    if not expression:
        return None
    kept = [
        p
        for p in split_union(expression)
        if expression_root(p) in (resource_type, "Resource", "DomainResource")
    ]
    return " | ".join(kept) if kept else None


def _definition(raw: dict[str, Any], resource_type: str, *, custom: bool) -> SearchParamDef:
    ptype = raw["type"]
    modifiers = SUPPORTED_MODIFIERS.get(ptype, ())
    comparators: tuple[str, ...] = PREFIXES if ptype in ORDERED_TYPES else ()
    return SearchParamDef(
        code=raw["code"],
        type=ptype,
        expression=narrow_expression(raw.get("expression"), resource_type),
        url=raw.get("url", ""),
        targets=tuple(raw.get("target", ())),
        modifiers=modifiers,
        comparators=comparators,
        components=tuple(
            SearchParamComponent(c["definition"], c["expression"]) for c in raw.get("component", ())
        ),
        documentation=raw.get("description", ""),
        base=tuple(raw.get("base", ())),
        custom=custom,
    )


def _special(code: str, text: str) -> SearchParamDef:
    return SearchParamDef(
        code=code,
        type="special",
        expression=None,
        url=f"http://hl7.org/fhir/SearchParameter/Resource-{code.lstrip('_')}",
        documentation=text,
        base=("Resource",),
    )


def profile_directories() -> list[Path]:
    """Where the clinic's conformance resources live: ``profiles/`` in a checkout, or the wheel's copy."""
    package_dir = Path(__file__).resolve().parent.parent
    candidates = [package_dir / "_profiles", package_dir.parent / "profiles"]
    return [c for c in candidates if c.is_dir()]


def shipped_search_parameters(directories: Iterable[Path] | None = None) -> list[dict[str, Any]]:
    """SearchParameter resources found (recursively) in the profile directories."""
    found: list[dict[str, Any]] = []
    for directory in directories if directories is not None else profile_directories():
        for path in sorted(directory.rglob("*.json")):
            try:
                data = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError:
                logger.warning("skipping unreadable profile file %s", path.name)
                continue
            if isinstance(data, dict) and data.get("resourceType") == "SearchParameter":
                found.append(data)
    return found


@cache
def _base_parameters_by_type() -> dict[str, dict[str, dict[str, Any]]]:
    """Base type -> code -> raw SearchParameter (the specification's)."""
    by_type: dict[str, dict[str, dict[str, Any]]] = {}
    for raw in spec_data.search_parameter_resources():
        for base in raw["base"]:
            by_type.setdefault(base, {})[raw["code"]] = raw
    return by_type


@dataclass
class ConformanceRegistry:
    """Search parameters, compartments, resource types and summary elements of R4B (+ custom)."""

    _custom: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _cache: dict[str, dict[str, SearchParamDef]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0  # bumped by every change, so compiled extractors know to rebuild

    _shared: ClassVar[ConformanceRegistry | None] = None

    @classmethod
    def load(cls) -> ConformanceRegistry:
        """The process-wide registry (spec data read lazily, shipped custom parameters added once)."""
        if cls._shared is None:
            cls._shared = cls.create()
        return cls._shared

    @classmethod
    def create(cls, *, profile_dirs: Iterable[Path] | None = None) -> ConformanceRegistry:
        """A new registry (tests use their own, so custom parameters never leak between them)."""
        registry = cls()
        for resource in shipped_search_parameters(profile_dirs):
            registry.add_search_parameter(resource)
        return registry

    # ----- resource types ------------------------------------------------------------------------

    def resource_types(self) -> list[str]:
        return list(spec_data.resource_type_names())

    def is_resource_type(self, name: str) -> bool:
        return name in _resource_type_set()

    # ----- search parameters -----------------------------------------------------------------------

    def search_parameters(self, resource_type: str) -> list[SearchParamDef]:
        """All parameters of a type: its own, the common ones (``_id`` ... ``_has``), custom ones."""
        return list(self._params_for(resource_type).values())

    def search_parameter(self, resource_type: str, code: str) -> SearchParamDef | None:
        return self._params_for(resource_type).get(code)

    def system_search_parameters(self) -> list[SearchParamDef]:
        """Parameters valid in a system-level search: the common ones plus ``_type``."""
        common = [p for p in self._params_for("Resource").values() if p.code != "_has"]
        return [*common, *(_special(code, text) for code, text in SYSTEM_ONLY.items())]

    def search_parameter_by_url(self, resource_type: str, url: str) -> SearchParamDef | None:
        for param in self._params_for(resource_type).values():
            if param.url == url:
                return param
        return None

    def add_search_parameter(self, resource: dict[str, Any]) -> None:
        """Register a custom SearchParameter resource; raises Unprocessable when it is unusable.

        It becomes searchable for new writes at once; run ``$reindex`` for existing data.
        """
        code = resource.get("code")
        ptype = resource.get("type")
        bases = resource.get("base") or []
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise Unprocessable(
                "SearchParameter.code is missing or not a valid code", ("SearchParameter.code",)
            )
        if ptype not in PARAM_TYPES or ptype == "special":
            raise Unprocessable(f"SearchParameter.type {ptype!r} is not supported", ("SearchParameter.type",))
        if not bases or not all(b == "Resource" or self.is_resource_type(b) for b in bases):
            raise Unprocessable("SearchParameter.base must name resource types", ("SearchParameter.base",))
        if not resource.get("expression"):
            raise Unprocessable("SearchParameter.expression is required", ("SearchParameter.expression",))
        if ptype == "composite" and not resource.get("component"):
            raise Unprocessable(
                "a composite SearchParameter needs components", ("SearchParameter.component",)
            )
        raw: dict[str, Any] = {
            key: resource[key]
            for key in ("url", "code", "base", "type", "expression", "target")
            if key in resource
        }
        raw["description"] = resource.get("description", "")
        if "component" in resource:
            raw["component"] = [
                {"definition": c["definition"], "expression": c["expression"]} for c in resource["component"]
            ]
        raw.setdefault("url", f"urn:custom-search-parameter:{code}")
        with self._lock:
            for base in bases:
                self._custom.setdefault(base, {})[code] = raw
            self._cache.clear()
            self.version += 1
        logger.info("custom search parameter %s added for %s", code, ",".join(bases))

    def _params_for(self, resource_type: str) -> dict[str, SearchParamDef]:
        cached = self._cache.get(resource_type)
        if cached is not None:
            return cached
        by_type = _base_parameters_by_type()
        params: dict[str, SearchParamDef] = {}
        layers: list[tuple[dict[str, dict[str, Any]], bool]] = [
            (by_type.get("Resource", {}), False),
            (by_type.get("DomainResource", {}), False),
        ]
        if resource_type != "Resource":
            layers.append((by_type.get(resource_type, {}), False))
        layers += [(self._custom.get("Resource", {}), True)]
        if resource_type != "Resource":
            layers.append((self._custom.get(resource_type, {}), True))
        for layer, custom in layers:
            for code, raw in layer.items():
                definition = _definition(raw, resource_type, custom=custom)
                # Parameters without an expression (_text, _filter, extension stubs ...) cannot be
                # indexed: they are not offered (the special ones we do serve are added below).
                if definition.searchable:
                    params[code] = definition
        for code, text in _COMMON_SPECIAL.items():
            params[code] = _special(code, text)
        with self._lock:
            self._cache[resource_type] = params
        return params

    # ----- compartments ----------------------------------------------------------------------------

    def compartment_types(self) -> list[str]:
        return list(spec_data.compartment_definitions())

    def compartment_params(self, compartment_type: str, resource_type: str) -> list[str]:
        """Parameter codes linking ``resource_type`` to a compartment (``[]``: not a member type).

        ``{def}`` (the compartment's own resource) is left out: membership of the focal resource
        itself is implicit.
        """
        definitions = spec_data.compartment_definitions()
        members = definitions.get(_compartment_key(compartment_type), {})
        return [p for p in members.get(resource_type, []) if p != "{def}"]

    def compartment_member_types(self, compartment_type: str) -> list[str]:
        """Resource types that can be in a compartment (the focal type included)."""
        key = _compartment_key(compartment_type)
        members = spec_data.compartment_definitions().get(key, {})
        return sorted({key, *members})

    # ----- elements --------------------------------------------------------------------------------

    def summary_elements(self, resource_type: str) -> frozenset[str]:
        """Top-level element names marked isSummary (choice elements without ``[x]``)."""
        return _element_set(resource_type, "summary")

    def mandatory_elements(self, resource_type: str) -> frozenset[str]:
        return _element_set(resource_type, "mandatory")

    def modifier_elements(self, resource_type: str) -> frozenset[str]:
        return _element_set(resource_type, "modifier")


@cache
def _resource_type_set() -> frozenset[str]:
    return frozenset(spec_data.resource_type_names())


def _compartment_key(compartment_type: str) -> str:
    """Accept "Patient", "patient", "relatedPerson" ... and answer the definition's code."""
    lowered = compartment_type.lower()
    for code in spec_data.compartment_definitions():
        if code.lower() == lowered:
            return code
    return compartment_type


@cache
def _element_set(resource_type: str, kind: str) -> frozenset[str]:
    info = spec_data.element_summary().get(resource_type, {})
    return frozenset(name.removesuffix("[x]") for name in info.get(kind, ()))
