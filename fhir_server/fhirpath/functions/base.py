"""How a function is declared, and the conversions function bodies share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.nodes import Node, system_value

Fn = Callable[[Env, list[Any]], list[Any]]

VALUE, EXPRESSION, TYPE = "value", "expression", "type"


@dataclass(frozen=True, slots=True)
class Descending:
    """A sort() key written ``-key``: order by ``key``, largest first."""

    key: Fn


@dataclass(frozen=True, slots=True)
class TypeSpecifier:
    namespace: str | None
    name: str


@dataclass(frozen=True, slots=True)
class FunctionDef:
    """A FHIRPath function: ``impl(env, focus, *arguments) -> collection``.

    ``params`` gives each argument's kind: a ``value`` argument arrives evaluated (a collection,
    evaluated against ``$this``), an ``expression`` one as a compiled function run per item, a
    ``type`` one as a :class:`TypeSpecifier`. ``result`` tells the compiler the static type of the
    output: ``focus`` (a subset of the input), ``type`` (the type argument) or a FHIR type name.
    """

    impl: Callable[..., list[Any]]
    params: tuple[str, ...] = ()
    required: int = -1  # how many params are mandatory (-1: all)
    result: str | None = None

    @property
    def min_args(self) -> int:
        return len(self.params) if self.required < 0 else self.required


def singleton(collection: list[Any], what: str = "the input") -> Any:
    """The System value of a one-item collection; None when empty; an error when more."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathError("execution", f"{what} has {len(collection)} items where one is expected")
    return system_value(collection[0])


def to_boolean(collection: list[Any], what: str = "the condition") -> bool | None:
    """Singleton evaluation of a collection as a boolean: a single non-boolean item is true."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathError("execution", f"{what} has {len(collection)} items where one boolean is expected")
    value = system_value(collection[0])
    if isinstance(value, bool):
        return value
    return True


def string_argument(collection: list[Any], what: str) -> str | None:
    value = singleton(collection, what)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FhirPathError("execution", f"{what} must be a string")
    return value


def integer_argument(collection: list[Any], what: str) -> int | None:
    value = singleton(collection, what)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value):
        raise FhirPathError("execution", f"{what} must be an integer")
    return int(value)


def input_string(focus: list[Any], function: str) -> str | None:
    """The single string a string function runs on (None when the input is empty)."""
    value = singleton(focus, f"the input of {function}()")
    if value is None:
        return None
    if type(value) is Node or not isinstance(value, str):
        raise FhirPathError("execution", f"{function}() needs a string input")
    return value


def run_per_item(env: Env, focus: list[Any], expression: Fn) -> list[tuple[Any, list[Any]]]:
    """Evaluate ``expression`` once per input item with ``$this``/``$index`` set."""
    saved_this, saved_index = env.this, env.index
    results: list[tuple[Any, list[Any]]] = []
    try:
        for index, item in enumerate(focus):
            current = [item]
            env.this, env.index = current, index
            results.append((item, expression(env, current)))
    finally:
        env.this, env.index = saved_this, saved_index
    return results
