"""ProfileValidator: validates resources against the R4B base definitions and the clinic's profiles.

One instance per application (``app.state.validator``); compiled structures, value set expansions
and FHIRPath expressions are cached inside it, so build it once and reuse it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fhir_server.conformance.expansion import expand_valueset
from fhir_server.conformance.invariants import InvariantEngine
from fhir_server.conformance.model_check import model_issues
from fhir_server.conformance.profiles import ConformanceResources
from fhir_server.conformance.structure import CompiledStructure
from fhir_server.conformance.structure_index import StructureIndex
from fhir_server.conformance.terminology import Terminology
from fhir_server.conformance.walker import InstanceWalker
from fhir_server.errors import Issue

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
MODES = frozenset({"create", "update", "delete"})


def _canonical(url: str) -> str:
    return url.split("|")[0]


def _claimed(resource: JsonDict) -> list[str]:
    """The profile URLs in ``meta.profile`` (malformed entries are the model check's business)."""
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def _dedupe(issues: Iterable[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


class ProfileValidator:
    """Structure, cardinality, fixed/pattern values, bindings, reference targets, slicing and
    FHIRPath invariants, against the base definition or the requested and claimed profiles."""

    def __init__(self, resources: ConformanceResources) -> None:
        self.resources = resources
        self.terminology = Terminology(resources)
        self.structures = StructureIndex(resources)
        self._invariants = InvariantEngine(self.terminology)
        self._walker = InstanceWalker(self.structures, self.terminology, self._invariants)

    @classmethod
    def from_directories(cls, directories: Iterable[Path] | None = None) -> ProfileValidator:
        """A validator over the conformance resources of these folders (default: ``profiles/``)."""
        return cls(ConformanceResources.from_directories(directories))

    def warm_up(self) -> int:
        """Compile every clinic StructureDefinition, the core definitions of their types and all
        their FHIRPath invariants now (once, at start-up) rather than on the first request that
        needs them. Returns how many expressions were compiled."""
        compiled = 0
        for definition in self.resources.all_by_type("StructureDefinition"):
            for structure in (
                self.structures.by_url(definition["url"]),
                self.structures.base(definition["type"]),
            ):
                for rule in structure.by_id.values() if structure else ():
                    for constraint in rule.constraints:
                        self._invariants.prepare(constraint.expression)
                        compiled += 1
        return compiled

    def value_set_url(self, value_set_id: str) -> str | None:
        """The canonical URL of ``ValueSet/<id>`` among the clinic's conformance resources."""
        value_set = self.resources.by_id("ValueSet", value_set_id)
        return None if value_set is None else str(value_set["url"])

    def knows_profile(self, url: str) -> bool:
        """A clinic profile or extension, or a core definition (``.../StructureDefinition/Patient``)."""
        return self.structures.by_url(_canonical(url)) is not None

    def validate(
        self, resource: JsonDict, *, profiles: list[str] | None = None, mode: str | None = None
    ) -> list[Issue]:
        """All issues of ``resource`` (empty: valid, no warnings).

        The resource is checked against the explicitly requested ``profiles`` (an unknown one is an
        error) and the profiles it claims in ``meta.profile`` (an unknown one is a warning), or the
        base definition of its type when neither names a known profile. ``mode`` is a $validate
        mode: ``create``, ``update`` (the resource needs an id) or ``delete`` (content not checked).
        """
        if not isinstance(resource, dict):
            return [Issue("structure", "A resource must be a JSON object", "error")]
        if mode is not None and mode not in MODES:
            return [Issue("value", f"Unknown validation mode '{mode}'", "error")]
        if mode == "delete":
            return [Issue("informational", "Delete mode: the content is not validated", "information")]
        issues = model_issues(resource)
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or resource_type not in self.structures.resource_types:
            return issues
        if mode == "update" and not resource.get("id"):
            issues.append(
                Issue("required", "An update needs the resource id", "error", (f"{resource_type}.id",))
            )
        structures, profile_issues = self._structures_for(resource, resource_type, profiles or [])
        issues.extend(profile_issues)
        for structure in structures:
            issues.extend(self._walk(resource, structure))
        return _dedupe(issues)

    def _walk(self, resource: JsonDict, structure: CompiledStructure) -> list[Issue]:
        try:
            return self._walker.validate(resource, structure)
        except Exception as error:  # malformed input we did not foresee: report, never crash
            logger.warning("validation against %s failed: %s", structure.url, type(error).__name__)
            message = f"The resource could not be checked against {structure.url} (malformed content)"
            return [Issue("exception", message, "error", (str(resource.get("resourceType")),))]

    def expand_valueset(
        self, url: str, *, text_filter: str | None = None, count: int | None = None, offset: int = 0
    ) -> JsonDict:
        """``$expand`` of a clinic or official enumerable ValueSet (see :func:`expand_valueset`)."""
        return expand_valueset(self.terminology, url, text_filter=text_filter, count=count, offset=offset)

    def _structures_for(
        self, resource: JsonDict, resource_type: str, requested: list[str]
    ) -> tuple[list[CompiledStructure], list[Issue]]:
        issues: list[Issue] = []
        chosen: dict[str, CompiledStructure] = {}
        for url, explicit in [(u, True) for u in requested] + [(u, False) for u in _claimed(resource)]:
            structure = self.structures.by_url(_canonical(url)) if self.knows_profile(url) else None
            if structure is None:
                severity, source = ("error", "requested") if explicit else ("warning", "claimed")
                issues.append(Issue("not-found", f"Unknown profile {url} ({source}): not checked", severity))
            elif structure.type != resource_type:
                message = f"Profile {url} is for {structure.type}, not {resource_type}"
                issues.append(Issue("invalid", message, "error"))
            else:
                chosen[structure.url] = structure
        if not chosen:
            base = self.structures.base(resource_type)
            return ([base] if base is not None else []), issues
        return list(chosen.values()), issues
