"""Quantities: a decimal value with a UCUM unit or a calendar duration, and unit conversion.

Comparison converts both sides to UCUM base units. The UCUM subset here covers the units FHIR data
and the FHIRPath suite use (metric prefixes on SI and customary atoms, time, volume, pressure,
enzyme units, ``%`` and annotations); an unknown unit is comparable only with itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from fhir_server.fhirpath.errors import FhirPathError

CALENDAR_WORDS = frozenset({"year", "month", "week", "day", "hour", "minute", "second", "millisecond"})
PLURALS = {word + "s": word for word in CALENDAR_WORDS}
# Calendar durations of a week and less are the same as their UCUM definite durations.
CALENDAR_AS_UCUM = {
    "week": "wk",
    "day": "d",
    "hour": "h",
    "minute": "min",
    "second": "s",
    "millisecond": "ms",
}

# dimension order: length, mass, time, temperature, amount, current, luminosity, angle
Dimension = tuple[int, int, int, int, int, int, int, int]
_NONE: Dimension = (0, 0, 0, 0, 0, 0, 0, 0)


def _dim(**powers: int) -> Dimension:
    order = ("L", "M", "T", "K", "N", "I", "J", "A")
    return tuple(powers.get(name, 0) for name in order)  # type: ignore[return-value]


# atom -> (factor to base units, dimension, accepts metric prefixes)
_ATOMS: dict[str, tuple[Fraction, Dimension, bool]] = {
    "m": (Fraction(1), _dim(L=1), True),
    "g": (Fraction(1), _dim(M=1), True),
    "s": (Fraction(1), _dim(T=1), True),
    "K": (Fraction(1), _dim(K=1), True),
    "mol": (Fraction(602214076, 1000) * 10**18, _NONE, True),
    "A": (Fraction(1), _dim(I=1), True),
    "cd": (Fraction(1), _dim(J=1), True),
    "rad": (Fraction(1), _dim(A=1), True),
    "deg": (Fraction(314159265358979, 100000000000000 * 180), _dim(A=1), False),
    "min": (Fraction(60), _dim(T=1), False),
    "h": (Fraction(3600), _dim(T=1), False),
    "d": (Fraction(86400), _dim(T=1), False),
    "wk": (Fraction(604800), _dim(T=1), False),
    "mo": (Fraction(2629800), _dim(T=1), False),
    "a": (Fraction(31557600), _dim(T=1), False),
    "L": (Fraction(1, 1000), _dim(L=3), True),
    "l": (Fraction(1, 1000), _dim(L=3), True),
    "Hz": (Fraction(1), _dim(T=-1), True),
    "N": (Fraction(1000), _dim(M=1, L=1, T=-2), True),
    "Pa": (Fraction(1000), _dim(M=1, L=-1, T=-2), True),
    "J": (Fraction(1000), _dim(M=1, L=2, T=-2), True),
    "W": (Fraction(1000), _dim(M=1, L=2, T=-3), True),
    "bar": (Fraction(100000000), _dim(M=1, L=-1, T=-2), True),
    "mm[Hg]": (Fraction(133322387415, 1000), _dim(M=1, L=-1, T=-2), False),
    "cm[H2O]": (Fraction(98066500, 1000), _dim(M=1, L=-1, T=-2), False),
    "kat": (Fraction(602214076, 1000) * 10**18, _dim(T=-1), True),
    "U": (Fraction(602214076, 1000) * 10**12 / 60, _dim(T=-1), True),
    "eq": (Fraction(602214076, 1000) * 10**18, _NONE, True),
    "[in_i]": (Fraction(254, 10000), _dim(L=1), False),
    "[ft_i]": (Fraction(3048, 10000), _dim(L=1), False),
    "[yd_i]": (Fraction(9144, 10000), _dim(L=1), False),
    "[mi_i]": (Fraction(1609344, 1000), _dim(L=1), False),
    "[lb_av]": (Fraction(45359237, 100000), _dim(M=1), False),
    "[oz_av]": (Fraction(45359237, 1600000), _dim(M=1), False),
    "[gal_us]": (Fraction(3785411784, 10**12), _dim(L=3), False),
    "[foz_us]": (Fraction(3785411784, 128 * 10**12), _dim(L=3), False),
    "%": (Fraction(1, 100), _NONE, False),
    "[ppm]": (Fraction(1, 10**6), _NONE, False),
    "[iU]": (Fraction(1), _dim(N=0, J=0, A=0), True),
    "[IU]": (Fraction(1), _dim(N=0, J=0, A=0), True),
}
_PREFIXES: dict[str, Fraction] = {
    "Y": Fraction(10**24),
    "Z": Fraction(10**21),
    "E": Fraction(10**18),
    "P": Fraction(10**15),
    "T": Fraction(10**12),
    "G": Fraction(10**9),
    "M": Fraction(10**6),
    "k": Fraction(10**3),
    "h": Fraction(10**2),
    "da": Fraction(10),
    "d": Fraction(1, 10),
    "c": Fraction(1, 100),
    "m": Fraction(1, 10**3),
    "u": Fraction(1, 10**6),
    "n": Fraction(1, 10**9),
    "p": Fraction(1, 10**12),
    "f": Fraction(1, 10**15),
}
_TERM = re.compile(r"(\d+|[^.\d/{}]+?)(-?\d+)?$")
_ANNOTATION = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class Canonical:
    factor: Fraction
    dimension: Dimension
    special: str | None = None  # a unit we cannot convert: comparable only with itself


def _atom(symbol: str) -> tuple[Fraction, Dimension] | None:
    if symbol in _ATOMS:
        factor, dimension, _ = _ATOMS[symbol]
        return factor, dimension
    for prefix, multiplier in _PREFIXES.items():
        if symbol.startswith(prefix) and symbol[len(prefix) :] in _ATOMS:
            factor, dimension, metric = _ATOMS[symbol[len(prefix) :]]
            if metric:
                return factor * multiplier, dimension
    return None


def _term(text: str) -> tuple[Fraction, Dimension] | None:
    match = _TERM.fullmatch(text)
    if match is None:
        return None
    symbol, exponent_text = match.groups()
    exponent = int(exponent_text) if exponent_text else 1
    if symbol.isdigit():
        return Fraction(int(symbol)) ** exponent, _NONE
    atom = _atom(symbol)
    if atom is None:
        return None
    factor, dimension = atom
    return factor**exponent, tuple(d * exponent for d in dimension)  # type: ignore[return-value]


def canonical(unit: str) -> Canonical:
    """The unit's factor to base units and its dimension (``special`` when not understood)."""
    text = _ANNOTATION.sub("", unit) or "1"
    if text in ("1", ""):
        return Canonical(Fraction(1), _NONE)
    factor = Fraction(1)
    dimension = list(_NONE)
    sign = 1
    token = ""
    tokens: list[tuple[int, str]] = []
    if text.startswith("/"):
        sign = -1
        text = text[1:]
    for ch in text:
        if ch in "./" and token and not token.endswith("["):
            tokens.append((sign, token))
            token = ""
            sign = -1 if ch == "/" else 1
        else:
            token += ch
    tokens.append((sign, token))
    for direction, part in tokens:
        term = _term(part)
        if term is None:
            return Canonical(Fraction(1), _NONE, unit)
        term_factor, term_dimension = term
        factor = factor * term_factor if direction > 0 else factor / term_factor
        for index, power in enumerate(term_dimension):
            dimension[index] += power * direction
    return Canonical(factor, tuple(dimension))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Quantity:
    """A System.Quantity: ``value`` with a UCUM ``unit`` or a calendar word (``year`` ...)."""

    value: Decimal
    unit: str = "1"

    @property
    def is_calendar(self) -> bool:
        return self.unit in CALENDAR_WORDS

    def __str__(self) -> str:
        if self.is_calendar:
            return f"{self.value} {self.unit}"
        return f"{self.value} '{self.unit}'"

    def _ucum(self) -> str | None:
        """The UCUM unit to compare by; None for a calendar year or month."""
        if self.is_calendar:
            return CALENDAR_AS_UCUM.get(self.unit)
        return self.unit

    def comparable(self, other: Quantity) -> bool:
        return self._converted_pair(other) is not None

    def _converted_pair(self, other: Quantity) -> tuple[Fraction, Fraction] | None:
        if self.unit == other.unit:
            return Fraction(self.value), Fraction(other.value)
        if self.is_calendar and other.is_calendar and {self.unit, other.unit} <= {"year", "month"}:
            months = {"year": 12, "month": 1}
            return Fraction(self.value) * months[self.unit], Fraction(other.value) * months[other.unit]
        mine, theirs = self._ucum(), other._ucum()
        if mine is None or theirs is None:
            return None
        a, b = canonical(mine), canonical(theirs)
        if a.special or b.special:
            return None if a.special != b.special else (Fraction(self.value), Fraction(other.value))
        if a.dimension != b.dimension:
            return None
        return Fraction(self.value) * a.factor, Fraction(other.value) * b.factor

    def compare(self, other: Quantity) -> int | None:
        """-1, 0 or 1; None when the units cannot be compared."""
        pair = self._converted_pair(other)
        if pair is None:
            return None
        a, b = pair
        return (a > b) - (a < b)

    def equivalent(self, other: Quantity) -> bool:
        pair = self._converted_pair(other)
        if pair is None:
            mine = "a" if self.unit == "year" else "mo" if self.unit == "month" else self.unit
            theirs = "a" if other.unit == "year" else "mo" if other.unit == "month" else other.unit
            if mine == theirs:
                pair = Fraction(self.value), Fraction(other.value)
            else:
                return False
        a, b = pair
        places = min(_places(self.value), _places(other.value))
        return round(a, places) == round(b, places)

    def scaled(self, factor: Decimal) -> Quantity:
        return Quantity(self.value * factor, self.unit)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def quantity_unit(unit_text: str) -> str:
    """A literal's unit: calendar words singular, UCUM strings as written."""
    return PLURALS.get(unit_text, unit_text)


_QUANTITY_TEXT = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*(?:'([^']+)'|([a-zA-Z]+))?\s*")


def parse_quantity(text: str) -> Quantity | None:
    """``'5 mg'``-style strings for toQuantity(): a number and an optional unit."""
    match = _QUANTITY_TEXT.fullmatch(text)
    if match is None:
        return None
    number, ucum, word = match.groups()
    if word is not None:
        word = PLURALS.get(word, word)
        if word not in CALENDAR_WORDS:
            return None
    return Quantity(Decimal(number), ucum or word or "1")


def multiply_units(a: str, b: str, *, divide: bool) -> str:
    if divide:
        if a == b:
            return "1"
        return f"{a}/{b}" if b != "1" else a
    if a == "1":
        return b
    if b == "1":
        return a
    return f"{a}.{b}"


def require_ucum(quantity: Quantity) -> None:
    if quantity.is_calendar and quantity.unit in ("year", "month"):
        raise FhirPathError("execution", "calendar years and months cannot be multiplied")
