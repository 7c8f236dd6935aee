"""Exact money arithmetic: amounts are ``Decimal`` on the way in and exact JSON on the way out.

FHIR decimals are parsed as ``Decimal`` and stored as Decimal128 (``fhir_server.jsonio``,
``fhir_server.store.codec``), so an amount arrives here as sent. Values written before that
(doubles) still arrive as floats: ``str(float)`` is the shortest text that reads back as that same
float, which for any amount written with up to 15 significant digits is exactly the text the
client sent, so ``Decimal(str(value))`` recovers it. Sums are exact and keep their precision
(``0.30 + 0.70`` is ``1.00``).
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


def json_number(amount: Decimal) -> orjson.Fragment:
    """A JSON value printing exactly ``amount``, precision included (``100.50``)."""
    return orjson.Fragment(str(amount).encode())


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    """A FHIR Money value."""
    return {"value": json_number(amount), "currency": currency}
