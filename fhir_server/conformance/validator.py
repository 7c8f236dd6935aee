"""ProfileValidator: the one validator of the server, for every write and for ``$validate``.

- :meth:`ProfileValidator.validate_for_write` is what the write pipeline calls for every resource
  it is about to store (create, update, patch result, bundle entries, import): it returns the
  resource to store or raises :class:`~fhir_server.errors.InvalidResource` (400: not valid FHIR, the
  JSON rules and the base definitions) or :class:`~fhir_server.errors.NonConformant` (422: a
  claimed, required or clinic profile is not met).
- :meth:`ProfileValidator.validate` is ``$validate``: the same rules, as a list of issues; it has
  errors exactly when ``validate_for_write`` would refuse the resource.

The rules: strict FHIR JSON and the base definitions (:mod:`.base_rules`), then the profiles the
resource claims in ``meta.profile``, the profile its clinic content makes it (:mod:`.clinic_content`)
and the ones ``FHIR_REQUIRED_PROFILES`` requires (:mod:`.walker`). One instance per application
(``app.state.validator``): compiled structures, expansions and expressions are cached inside it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fhir_server.conformance.base_rules import BaseRules
from fhir_server.conformance.clinic_content import clinic_profile
from fhir_server.conformance.expansion import expand_valueset
from fhir_server.conformance.invariants import InvariantEngine
from fhir_server.conformance.profiles import ConformanceResources
from fhir_server.conformance.structure import CompiledStructure
from fhir_server.conformance.structure_index import CORE_PREFIX, StructureIndex
from fhir_server.conformance.terminology import Terminology
from fhir_server.conformance.walker import InstanceWalker
from fhir_server.errors import InvalidResource, Issue, NonConformant

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
MODES = frozenset({"create", "update", "delete"})
FAILING = frozenset({"error", "fatal"})


def _canonical(url: str) -> str:
    return url.split("|")[0]


def _claimed(resource: JsonDict) -> list[str]:
    """The profile URLs in ``meta.profile`` (malformed entries are the model check's business)."""
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


_NAMED_STRUCTURE = re.compile(r" \(https?://[^ ()]+\)$")


def _dedupe(issues: Iterable[Issue]) -> list[Issue]:
    """Each problem once: a contained resource is checked by the base pass and again by the profile
    pass, which names the structure it checked against; the first report of a problem is kept."""
    seen: dict[tuple[str, str, str, tuple[str, ...]], Issue] = {}
    for issue in issues:
        key = (issue.code, issue.severity, _NAMED_STRUCTURE.sub("", issue.diagnostics), issue.expression)
        seen.setdefault(key, issue)
    return list(seen.values())


class ProfileValidator:
    """Structure, cardinality, fixed/pattern values, bindings, reference targets, slicing and
    FHIRPath invariants, against the base definition or the requested and claimed profiles."""

    def __init__(
        self, resources: ConformanceResources, *, required_profiles: dict[str, list[str]] | None = None
    ) -> None:
        self.resources = resources
        self.terminology = Terminology(resources)
        self.structures = StructureIndex(resources)
        self._invariants = InvariantEngine(self.terminology)
        self._walker = InstanceWalker(self.structures, self.terminology, self._invariants)
        self._base = BaseRules(self.structures, self.terminology, self._invariants)
        self.required_profiles: dict[str, list[str]] = dict(required_profiles or {})

    @classmethod
    def from_directories(
        cls,
        directories: Iterable[Path] | None = None,
        *,
        required_profiles: dict[str, list[str]] | None = None,
    ) -> ProfileValidator:
        """A validator over the conformance resources of these folders (default: ``profiles/``)."""
        return cls(ConformanceResources.from_directories(directories), required_profiles=required_profiles)

    def validate_for_write(self, resource: JsonDict) -> JsonDict:
        """The resource to store: ``resource`` itself, with the clinic profile its content makes it
        added to ``meta.profile``. Raises InvalidResource (400) when it is not valid FHIR (JSON
        rules, base definitions) and NonConformant (422) when it breaks a claimed, required or
        clinic profile; the outcome has one issue per problem (warnings included)."""
        self.check_base(resource)
        self.check_profiles(resource)
        return self.with_clinic_profile(resource)

    def check_base(self, resource: Any) -> None:
        """Raise InvalidResource (400) when ``resource`` is not valid FHIR (first half of
        :meth:`validate_for_write`)."""
        issues = self.base_issues(resource)
        if any(issue.severity in FAILING for issue in issues):
            raise InvalidResource(_reportable(issues))

    def check_profiles(self, resource: JsonDict) -> None:
        """Raise NonConformant (422) when a claimed, required or clinic profile is not met (second
        half of :meth:`validate_for_write`; the resource is valid FHIR already)."""
        issues = self.profile_issues(resource)
        if any(issue.severity in FAILING for issue in issues):
            raise NonConformant(_reportable(issues))

    @staticmethod
    def with_clinic_profile(resource: JsonDict) -> JsonDict:
        """``resource`` with the clinic profile its content makes it in ``meta.profile``."""
        return with_profile(resource, clinic_profile(resource))

    def base_issues(self, resource: Any) -> list[Issue]:
        """Strict FHIR JSON and the R4B base definitions (errors here mean 400)."""
        return self._base.validate(resource)

    def profile_issues(self, resource: JsonDict, *, requested: list[str] | None = None) -> list[Issue]:
        """The requested, claimed, clinic (by content) and required profiles (errors mean 422)."""
        resource_type = str(resource.get("resourceType", ""))
        issues = self._required_profile_issues(resource, resource_type)
        structures, chosen_issues = self._structures_for(resource, resource_type, requested or [])
        issues.extend(chosen_issues)
        for structure in structures:
            issues.extend(self._walk(resource, structure))
        return _dedupe(issues)

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
        issues = self.base_issues(resource)
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or resource_type not in self.structures.resource_types:
            return issues
        if mode == "update" and not resource.get("id"):
            issues.append(
                Issue("required", "An update needs the resource id", "error", (f"{resource_type}.id",))
            )
        issues.extend(self.profile_issues(resource, requested=profiles))
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

    def _required_profile_issues(self, resource: JsonDict, resource_type: str) -> list[Issue]:
        required = [_canonical(url) for url in self.required_profiles.get(resource_type, [])]
        claimed = {_canonical(url) for url in _claimed(resource)}
        content = clinic_profile(resource)
        if not required or claimed & set(required) or (content is not None and content in required):
            return []
        message = f"A {resource_type} must claim one of these profiles in meta.profile: {', '.join(required)}"
        return [Issue("processing", message, "error", (f"{resource_type}.meta.profile",))]

    def _structures_for(
        self, resource: JsonDict, resource_type: str, requested: list[str]
    ) -> tuple[list[CompiledStructure], list[Issue]]:
        """The profiles to check: requested (unknown: error), claimed (unknown: warning) and the
        clinic profile the content makes it. None: the base definition only (already checked)."""
        issues: list[Issue] = []
        chosen: dict[str, CompiledStructure] = {}
        content = clinic_profile(resource)
        candidates = [(u, "requested") for u in requested] + [(u, "claimed") for u in _claimed(resource)]
        if content is not None:
            candidates.append((content, "content"))
        for url, source in candidates:
            structure = self.structures.by_url(_canonical(url)) if self.knows_profile(url) else None
            if structure is None:
                severity = "error" if source == "requested" else "warning"
                issues.append(Issue("not-found", f"Unknown profile {url} ({source}): not checked", severity))
            elif structure.type != resource_type:
                message = f"Profile {url} is for {structure.type}, not {resource_type}"
                issues.append(Issue("invalid", message, "error"))
            elif structure.kind == "resource" and structure.url.startswith(CORE_PREFIX):
                continue  # a core definition: the base rules are checked already
            else:
                chosen[structure.url] = structure
        return list(chosen.values()), issues


def with_profile(resource: JsonDict, profile: str | None) -> JsonDict:
    """``resource`` with ``profile`` in ``meta.profile`` (a new dict when it was not there)."""
    if profile is None or profile in {_canonical(url) for url in _claimed(resource)}:
        return resource
    meta = resource.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    profiles = [*_claimed(resource), profile]
    return {**resource, "meta": {**meta, "profile": profiles}}


def _reportable(issues: list[Issue]) -> list[Issue]:
    """What a refused write reports: every problem, errors first (informational notes dropped)."""
    ranked = {"fatal": 0, "error": 0, "warning": 1}
    kept = [issue for issue in issues if issue.severity in ranked]
    return sorted(kept, key=lambda issue: ranked[issue.severity])
