"""Discovery of ``$operations``: every module of this package that declares ``OPERATIONS``."""

from __future__ import annotations

import importlib
import pkgutil

from fhir_server.interactions.operation import OperationSpec


def discover_operations() -> list[OperationSpec]:
    """All declared operations, sorted by name (imports the package's modules; call once at app creation)."""
    package = importlib.import_module("fhir_server.operations")
    found: list[OperationSpec] = []
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"fhir_server.operations.{module_info.name}")
        found.extend(getattr(module, "OPERATIONS", []))
    return sorted(found, key=lambda spec: spec.name)
