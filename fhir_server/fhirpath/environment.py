"""What one evaluation runs in: variables, ``$this``/``$index``/``$total`` and the FHIR services.

The services are the parts of FHIRPath that need more than the data at hand: ``resolve()``,
``memberOf()``, ``conformsTo()``, ``subsumes()``. :class:`FhirServices` answers from the resource
itself (contained resources, Bundle entries) and says "unknown" (None) for the rest; callers with
terminology or profiles pass a subclass.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir_server.fhirpath.model import FhirModel
from fhir_server.fhirpath.nodes import Node
from fhir_server.fhirpath.temporal import Temporal, now

# Constants every evaluation knows (FHIRPath and the FHIR specification's additions).
_CONSTANTS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}
_BASE_DEFINITION = "http://hl7.org/fhir/StructureDefinition/"


class FhirServices:
    """FHIR-specific operations; None means "cannot tell" (the function then yields empty)."""

    def resolve(self, reference: str, env: Env) -> Node | None:
        """The resource a reference points to, looked up in the evaluated resource: contained
        resources (``#id``) and the entries of an enclosing Bundle (by fullUrl or type/id)."""
        return resolve_locally(reference, env)

    def member_of(self, value: Any, value_set: str) -> bool | None:
        return None

    def conforms_to(self, node: Node, profile: str, env: Env) -> bool | None:
        """Conformance to a base resource or type definition is conformance to its type."""
        if profile.startswith(_BASE_DEFINITION):
            name = profile[len(_BASE_DEFINITION) :]
            if env.model.knows(name) and node.type is not None:
                return env.model.is_subtype(node.type, name)
        return None

    def subsumes(self, system: str, code: str, other_code: str) -> bool | None:
        return None if code != other_code else True


DEFAULT_SERVICES = FhirServices()


class Env:
    """Mutable per-evaluation state; iteration functions set ``this``/``index`` and restore them."""

    __slots__ = ("_now", "index", "model", "services", "this", "total", "variables")

    def __init__(
        self, *, model: FhirModel, this: list[Any], variables: dict[str, list[Any]], services: FhirServices
    ) -> None:
        self.model = model
        self.this = this
        self.index: int | None = None
        self.total: list[Any] = []
        self.variables = variables
        self.services = services
        self._now: Temporal | None = None

    def variable(self, name: str) -> list[Any] | None:
        if name in self.variables:
            return self.variables[name]
        if name in _CONSTANTS:
            return [_CONSTANTS[name]]
        if name.startswith("vs-"):
            return [f"http://hl7.org/fhir/ValueSet/{name[3:]}"]
        if name.startswith("ext-"):
            return [f"http://hl7.org/fhir/StructureDefinition/{name[4:]}"]
        return None

    def now(self) -> Temporal:
        """now() is fixed for the whole evaluation."""
        if self._now is None:
            self._now = now(datetime.now(UTC))
        return self._now


def _root_data(env: Env) -> list[Any]:
    roots: list[Any] = []
    for name in ("rootResource", "resource", "context"):
        for item in env.variables.get(name, ()):
            if type(item) is Node and isinstance(item.data, dict):
                roots.append(item.data)
    return roots


def resolve_locally(reference: str, env: Env) -> Node | None:
    if reference.startswith("#"):
        wanted = reference[1:]
        for root in _root_data(env):
            if wanted == "":
                return Node(root, root.get("resourceType"))
            for contained in root.get("contained", ()) or ():
                if isinstance(contained, dict) and contained.get("id") == wanted:
                    return Node(contained, contained.get("resourceType"))
        return None
    for root in _root_data(env):
        if root.get("resourceType") != "Bundle":
            continue
        for entry in root.get("entry", ()) or ():
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            full_url = entry.get("fullUrl")
            local = f"{resource.get('resourceType')}/{resource.get('id')}"
            if reference in (full_url, local) or (
                isinstance(full_url, str) and full_url.endswith("/" + reference)
            ):
                return Node(resource, resource.get("resourceType"))
    return None
