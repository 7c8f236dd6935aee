"""String normalization and prefix expansion for ``string`` search parameters.

Why prefixes: FHIR string search matches values that *start with* the query, ignoring case and
accents. We store every normalized value together with all its prefixes up to ``MAX_PREFIX``
characters, so a query is an exact equality on one array element (an index point lookup, no
``$regex``). A range such as ``{$gte: "smi", $lt: "smj"}`` would be wrong on a multi-valued field:
MongoDB may satisfy each bound with a different array element (``["abc", "zzz"]`` matches), so
prefixes are the representation that is both correct and indexable.

Values longer than ``MAX_PREFIX`` also keep their full normalized form (capped at
``MAX_VALUE``); a longer query narrows by its first ``MAX_PREFIX`` characters on the index and
checks the rest with an anchored pattern on those few candidates.
"""

from __future__ import annotations

import unicodedata

MAX_PREFIX = 24
MAX_VALUE = 256


def normalize(text: str) -> str:
    """Case-fold, strip accents (NFKD minus combining marks) and collapse whitespace."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def prefixes(normalized: str) -> list[str]:
    """All prefixes up to MAX_PREFIX, plus the (capped) full value when it is longer."""
    limit = min(len(normalized), MAX_PREFIX)
    out = [normalized[:i] for i in range(1, limit + 1)]
    if len(normalized) > MAX_PREFIX:
        out.append(normalized[:MAX_VALUE])
    return out
