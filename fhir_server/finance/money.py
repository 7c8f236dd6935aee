"""Exact money arithmetic: amounts become ``Decimal`` on the way in and exact JSON on the way out.

Request bodies are parsed by orjson and stored by MongoDB as doubles, so ``0.1`` arrives here as
the float nearest to 0.1. ``str(float)`` is the shortest text that reads back as that same float,
which for any amount written with up to 15 significant digits is exactly the text the client sent;
``Decimal(str(value))`` therefore recovers the sent amount, and sums are exact from there on.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from fhir_server.errors import Unprocessable


def exact_amount(value: Any, *, where: str) -> Decimal:
    """The decimal a JSON number stands for (see the module docstring); 422 when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise Unprocessable(f"{where} is not a number", (where,))
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Unprocessable(f"{where} is not a number", (where,)) from None
    if not amount.is_finite():
        raise Unprocessable(f"{where} is not a finite number", (where,))
    return amount


def json_number(amount: Decimal) -> int | float | orjson.Fragment:
    """A JSON value printing exactly ``amount``: an int, a float whose shortest form is the same
    decimal, or (for more digits than a float keeps) the decimal text itself."""
    if amount == amount.to_integral_value() and abs(amount) < 2**53:
        return int(amount)
    as_float = float(amount)
    if Decimal(str(as_float)) == amount:
        return as_float
    return orjson.Fragment(str(amount).encode())


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    """A FHIR Money value."""
    return {"value": json_number(amount), "currency": currency}
