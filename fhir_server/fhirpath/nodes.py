"""FHIR data as FHIRPath sees it: typed nodes over the resource JSON, and their System values.

A :class:`Node` wraps one element of a resource with its FHIR type (from the model, or the
``resourceType`` of a resource) and, for a primitive, the ``_name`` sibling that carries its id and
extensions. Everything the evaluator computes itself (literals, arithmetic) is a plain System
value: ``bool``, ``int``, ``Decimal``, ``str``, :class:`~.temporal.Temporal` or
:class:`~.quantity.Quantity`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir_server.fhirpath.model import QUANTITY_TYPES, SYSTEM_TYPE_OF_PRIMITIVE, FhirModel
from fhir_server.fhirpath.quantity import Quantity
from fhir_server.fhirpath.temporal import DATE, DATETIME, Temporal, parse_date_time, parse_time

UCUM_SYSTEM = "http://unitsofmeasure.org"


class Node:
    """One FHIR element: its JSON ``data``, FHIR ``type`` (None when unknown) and primitive ``extra``."""

    __slots__ = ("data", "extra", "type")

    def __init__(self, data: Any, type_: str | None, extra: Any = None) -> None:
        self.data = data
        self.type = type_
        self.extra = extra

    def __repr__(self) -> str:
        return f"Node({self.type}: {self.data!r})"


def resource_node(data: Any) -> Node:
    """A resource (or any JSON value) as the root of an evaluation."""
    if isinstance(data, Node):
        return data
    type_ = data.get("resourceType") if isinstance(data, dict) else None
    return Node(data, type_ if isinstance(type_, str) else None)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _temporal(value: Any, type_: str) -> Temporal | str:
    if not isinstance(value, str):
        return value  # type: ignore[no-any-return]
    if type_ == "time":
        parsed = parse_time(value)
    elif type_ == "date":
        parsed = parse_date_time(value, kind=DATE)
    else:
        parsed = parse_date_time(value, kind=DATETIME)
    return parsed if parsed is not None else value


def _quantity(data: Any) -> Quantity | None:
    if not isinstance(data, dict) or "value" not in data:
        return None
    value = data["value"]
    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        return None
    code, unit = data.get("code"), data.get("unit")
    if isinstance(code, str) and data.get("system") in (UCUM_SYSTEM, None):
        chosen = code  # a UCUM code is what compares and converts
    elif isinstance(unit, str):
        chosen = unit
    else:
        chosen = code if isinstance(code, str) else "1"
    return Quantity(_decimal(value), chosen)


def system_value(item: Any) -> Any:
    """The System value of an item: a primitive node's value converted by its FHIR type, a
    Quantity-typed node as a Quantity; other items unchanged."""
    if type(item) is not Node:
        return item
    data = item.data
    type_ = item.type
    if type_ is None:
        if isinstance(data, float):
            return _decimal(data)
        return data
    system = SYSTEM_TYPE_OF_PRIMITIVE.get(type_)
    if system is None:
        if type_ in QUANTITY_TYPES:
            quantity = _quantity(data)
            return quantity if quantity is not None else item
        return item
    if data is None:
        return None
    if system == "Decimal":
        return (
            _decimal(data) if isinstance(data, int | float | Decimal) and not isinstance(data, bool) else data
        )
    if system in ("Date", "DateTime", "Time"):
        return _temporal(data, type_)
    return data


def system_type_name(value: Any) -> str:
    """The System type of a System value (Boolean, Integer ...)."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, Decimal | float):
        return "Decimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, Temporal):
        return value.kind
    if isinstance(value, Quantity):
        return "Quantity"
    return "Any"


def type_of(item: Any) -> tuple[str, str]:
    """(namespace, name) of an item: FHIR for nodes with a known type, System otherwise."""
    if type(item) is Node:
        if item.type is not None:
            name = item.type
            if "." in name:  # a backbone element's synthetic type
                name = "BackboneElement"
            return "FHIR", name
        return "System", system_type_name(system_value(item))
    return "System", system_type_name(item)


def is_type(item: Any, namespace: str | None, name: str, model: FhirModel) -> bool:
    """``item is [namespace.]name``: subtypes count (``code is string``)."""
    if type(item) is Node and item.type is not None:
        if namespace == "System":
            return False
        return model.is_subtype(item.type, name)
    if namespace == "FHIR":
        return False
    return name in (type_of(item)[1], "Any")


def is_exact_type(item: Any, namespace: str | None, name: str, model: FhirModel) -> bool:
    """``as``/``ofType``: the type itself, or a subtype among complex and resource types."""
    if type(item) is Node and item.type is not None:
        if namespace == "System":
            return False
        if item.type == name:
            return True
        spec = model.types.get(item.type)
        return spec is not None and spec.kind != "primitive" and model.is_subtype(item.type, name)
    return is_type(item, namespace, name, model)
