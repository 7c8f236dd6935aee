"""Compile once, evaluate many times: the entry point to the evaluator."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fhir_server.fhirpath.compiler import Compiler
from fhir_server.fhirpath.environment import DEFAULT_SERVICES, Env, FhirServices
from fhir_server.fhirpath.functions.base import Fn
from fhir_server.fhirpath.model import FhirModel, r4b_model
from fhir_server.fhirpath.nodes import Node, resource_node
from fhir_server.fhirpath.parser import parse
from fhir_server.fhirpath.quantity import Quantity
from fhir_server.fhirpath.temporal import Temporal


class CompiledExpression:
    """A parsed and compiled expression; :meth:`evaluate` runs it on one focus item."""

    __slots__ = ("_fn", "context_type", "expression", "model")

    def __init__(self, expression: str, fn: Fn, model: FhirModel, context_type: str | None) -> None:
        self.expression = expression
        self.context_type = context_type
        self.model = model
        self._fn = fn

    def evaluate(
        self,
        focus: Any,
        *,
        resource: Any = None,
        root_resource: Any = None,
        variables: dict[str, Any] | None = None,
        services: FhirServices = DEFAULT_SERVICES,
    ) -> list[Any]:
        """The result collection (Nodes and System values) for ``focus`` (a resource dict, a
        :class:`Node`, or None for no input). ``%resource`` defaults to the focus and
        ``%rootResource`` to ``%resource``. Raises :class:`FhirPathError`."""
        context = [] if focus is None else [resource_node(focus)]
        resource_items = context if resource is None else [resource_node(resource)]
        root_items = resource_items if root_resource is None else [resource_node(root_resource)]
        bound: dict[str, list[Any]] = {
            "context": context,
            "resource": resource_items,
            "rootResource": root_items,
        }
        for name, value in (variables or {}).items():
            bound[name] = value if isinstance(value, list) else [value]
        env = Env(model=self.model, this=context, variables=bound, services=services)
        return self._fn(env, context)


@lru_cache(maxsize=4096)
def compile_expression(
    expression: str,
    context_type: str | None = None,
    *,
    check_ordered_functions: bool = False,
    lenient_casts: bool = False,
) -> CompiledExpression:
    """Parse and compile (cached). ``context_type`` is the FHIR type of the items the expression
    will be evaluated on (``Patient``, ``HumanName``, ``Patient.contact``); with it, names the
    model does not have are reported at once. ``check_ordered_functions`` refuses order-dependent
    functions on the unordered output of children()/descendants(). ``lenient_casts`` lets ``as``
    filter a collection like ofType() (the R4B search parameters are written that way) instead of
    failing on more than one item. Raises :class:`FhirPathError`."""
    model = r4b_model()
    compiler = Compiler(model, check_ordered_functions=check_ordered_functions, lenient_casts=lenient_casts)
    fn = compiler.compile(_parsed(expression), context_type)
    return CompiledExpression(expression, fn, model, context_type)


@lru_cache(maxsize=4096)
def _parsed(expression: str) -> Any:
    """Parse trees are only read by the compiler: one parse serves every context type."""
    return parse(expression)


def to_json(item: Any) -> Any:
    """An item as JSON-like data: a node's own JSON, a System value in its FHIR JSON form."""
    if type(item) is Node:
        return item.data
    if isinstance(item, Temporal):
        return str(item)
    if isinstance(item, Quantity):
        return {"value": item.value, "unit": item.unit}
    return item
