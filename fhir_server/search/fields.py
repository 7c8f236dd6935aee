"""Names of the index entries stored in ``ix`` (declared once, read by indexer and translator).

For a search parameter ``code`` the document holds:

    ix.<code>       the main array: exact-match strings (one index per parameter serves it)
    ix.<code>@lo    date / number / quantity: lower bounds of each value (datetimes or floats)
    ix.<code>@hi    upper bounds of each value
    ix.<code>@r     date / number / quantity / composite: one record per value ({l, h, u ...}), so
                    a condition on both bounds of ONE value is exact (``$elemMatch``, a residual)
    ix.<code>@f     string / token text: full normalized values longer than the prefix limit
    ix.<code>@a     scalar sort key, ascending (the smallest value: FHIR sorts ascending by it)
    ix.<code>@d     scalar sort key, descending (the largest value)

Inside the main array, entries meant for a modifier start with a control character. FHIR strings,
codes and URIs cannot contain these characters, so a tagged entry can never equal a plain value.
"""

from __future__ import annotations

from typing import Final

INDEX: Final = "ix"
COMPARTMENTS: Final = "comp"
LAST_UPDATED: Final = "lu"
DELETED: Final = "del"
RESOURCE: Final = "res"
ID: Final = "_id"

LOW: Final = "@lo"
HIGH: Final = "@hi"
RESIDUAL: Final = "@r"
FULL: Final = "@f"
SORT_ASC: Final = "@a"
SORT_DESC: Final = "@d"

TAG_EXACT: Final = "\x1f"  # string: the raw value, for :exact
TAG_TEXT: Final = "\x1d"  # token: normalized text prefixes (CodeableConcept.text, display), for :text
TAG_IDENTIFIER: Final = "\x1e"  # reference: Reference.identifier tokens, for :identifier
TAG_OF_TYPE: Final = "\x1b"  # token: "typesystem|typecode|value" of identifiers, for :of-type
TAG_BELOW: Final = "\x1c"  # uri: path prefixes at "/" boundaries, for :below
TAG_UNIT: Final = "\x1a"  # quantity: unit tokens, to narrow unit-qualified comparisons
TAG_FULL_TEXT: Final = "\x19"  # token: (transient) a long text, moved to @f by the encoder


def main_field(code: str) -> str:
    return f"{INDEX}.{code}"


def sub_field(code: str, suffix: str) -> str:
    return f"{INDEX}.{code}{suffix}"
