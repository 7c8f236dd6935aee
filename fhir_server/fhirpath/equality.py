"""Equality (``=``), equivalence (``~``) and ordering of single items, by FHIRPath's rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.nodes import Node, system_value
from fhir_server.fhirpath.quantity import Quantity
from fhir_server.fhirpath.temporal import Temporal, parse_date_time, parse_time

_NUMBER = (int, Decimal)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Implicit conversions between the two sides: a string read as a date/time or a number as a
    Quantity of unit '1' when the other side is one."""
    if isinstance(a, Temporal) and isinstance(b, str):
        b = _as_temporal(b, a) or b
    elif isinstance(b, Temporal) and isinstance(a, str):
        a = _as_temporal(a, b) or a
    elif isinstance(a, Quantity) and _is_number(b):
        b = Quantity(Decimal(b), "1")
    elif isinstance(b, Quantity) and _is_number(a):
        a = Quantity(Decimal(a), "1")
    return a, b


def _as_temporal(text: str, like: Temporal) -> Temporal | None:
    return parse_time(text) if like.kind == "Time" else parse_date_time(text)


def _plain(data: Any) -> Any:
    """JSON data with numbers normalised, for comparing complex elements."""
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items() if key != "id"}
    if isinstance(data, list):
        return [_plain(value) for value in data]
    if isinstance(data, float):
        return Decimal(repr(data))
    return data


def _complex(item: Any) -> Any:
    return item.data if type(item) is Node and isinstance(item.data, dict) else None


def equals(left: Any, right: Any) -> bool | None:
    """``=`` on two items; None when the answer is unknown (precision, missing value, units)."""
    a, b = system_value(left), system_value(right)
    if type(a) is Node or type(b) is Node:
        ca, cb = _complex(a), _complex(b)
        if ca is None or cb is None:
            return False
        return bool(_plain(ca) == _plain(cb))
    if a is None or b is None:
        return None
    a, b = _coerce_pair(a, b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, Temporal) and isinstance(b, Temporal):
        if (a.kind == "Time") != (b.kind == "Time"):
            return False
        result = a.compare(b)
        return None if result is None else result == 0
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        ordering = a.compare(b)
        return None if ordering is None else ordering == 0
    if type(a) is not type(b):
        return False
    return bool(a == b)


def _normal_text(text: str) -> str:
    return " ".join(text.split()).lower()


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def equivalent(left: Any, right: Any) -> bool:
    """``~`` on two items: never unknown."""
    a, b = system_value(left), system_value(right)
    if type(a) is Node or type(b) is Node:
        ca, cb = _complex(a), _complex(b)
        if ca is None or cb is None:
            return False
        return _equivalent_data(ca, cb)
    if a is None or b is None:
        return a is None and b is None
    a, b = _coerce_pair(a, b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_number(a) and _is_number(b):
        places = min(_decimal_places(Decimal(a)), _decimal_places(Decimal(b)))
        return round(Decimal(a), places) == round(Decimal(b), places)
    if isinstance(a, str) and isinstance(b, str):
        return _normal_text(a) == _normal_text(b)
    if isinstance(a, Temporal) and isinstance(b, Temporal):
        return a.equivalent(b)
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return a.equivalent(b)
    return False


def _equivalent_data(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - {"id"}
        return all(_equivalent_data(a.get(key), b.get(key)) for key in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equivalent_data(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):
        return _normal_text(a) == _normal_text(b)
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return equivalent(Decimal(repr(a)), Decimal(repr(b)))
    return bool(a == b)


def compare(left: Any, right: Any) -> int | None:
    """Ordering of two items for ``<`` and friends; None when unknown; an error when the two
    cannot be ordered at all."""
    a, b = system_value(left), system_value(right)
    if a is None or b is None:
        return None
    a, b = _coerce_pair(a, b)
    if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
        return int((a > b) - (a < b))
    if isinstance(a, Temporal) and isinstance(b, Temporal):
        return a.compare(b)
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        ordering = a.compare(b)
        if ordering is None:
            raise FhirPathError("execution", f"cannot compare {a.unit} with {b.unit}")
        return ordering
    raise FhirPathError("execution", "these values cannot be ordered")
