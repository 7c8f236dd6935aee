"""Literals of the grammar as System values, and identifiers and strings with their escapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.quantity import Quantity, quantity_unit
from fhir_server.fhirpath.temporal import parse_date_time, parse_time

P: Any = FHIRPathParser  # the generated parse-tree classes (untyped)
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def unescape(text: str) -> str:
    """A string or delimited identifier's text with its escapes (\\n, \\u0041 ...) resolved."""
    out: list[str] = []
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following == "u" and index + 5 < len(text) + 1:
                out.append(chr(int(text[index + 2 : index + 6], 16)))
                index += 6
                continue
            out.append(_ESCAPES.get(following, following))
            index += 2
            continue
        out.append(ch)
        index += 1
    return "".join(out)


def identifier(ctx: Any) -> str:
    """An identifier's name (a `delimited` one unquoted)."""
    text: str = ctx.getText()
    return unescape(text[1:-1]) if text.startswith("`") else text


def literal_value(literal: Any) -> Any:
    """The System value of a literal's parse tree (None for ``{}``)."""
    text: str = literal.getText()
    if isinstance(literal, P.NullLiteralContext):
        return None
    if isinstance(literal, P.BooleanLiteralContext):
        return text == "true"
    if isinstance(literal, P.StringLiteralContext):
        return unescape(text[1:-1])
    if isinstance(literal, P.NumberLiteralContext):
        return Decimal(text) if "." in text else int(text)
    if isinstance(literal, P.DateTimeLiteralContext):
        parsed = parse_date_time(text[1:])
        if parsed is None:
            raise FhirPathError("syntax", f"invalid date/time {text}")
        return parsed
    if isinstance(literal, P.TimeLiteralContext):
        parsed = parse_time(text[2:])
        if parsed is None:
            raise FhirPathError("syntax", f"invalid time {text}")
        return parsed
    if isinstance(literal, P.QuantityLiteralContext):
        quantity = literal.quantity()
        number = quantity.NUMBER().getText()
        unit = quantity.unit()
        unit_text = "1" if unit is None else unit.getText()
        if unit_text.startswith("'"):
            unit_text = unescape(unit_text[1:-1])
        return Quantity(Decimal(number), quantity_unit(unit_text))
    raise FhirPathError("syntax", f"unexpected literal {text}")
