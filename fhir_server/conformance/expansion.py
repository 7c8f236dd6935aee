"""``ValueSet/$expand``: a value set with its ``expansion`` (filtered and paged)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fhir_server.conformance.terminology import Concept, Terminology
from fhir_server.errors import BadRequest, NotFound, Unprocessable

JsonDict = dict[str, Any]
MAX_EXPANSION_COUNT = 10_000


def expand_valueset(
    terminology: Terminology,
    url: str,
    *,
    text_filter: str | None = None,
    count: int | None = None,
    offset: int = 0,
) -> JsonDict:
    """The ValueSet at ``url`` with an ``expansion``.

    ``text_filter`` keeps concepts whose code or display contains it (case-insensitive); ``count`` and
    ``offset`` page the ``contains`` list while ``total`` counts every match. Raises NotFound for an
    unknown value set and Unprocessable for one that cannot be enumerated here.
    """
    if offset < 0 or (count is not None and count < 0):
        raise BadRequest("count and offset must not be negative")
    value_set = terminology.value_set(url)
    if value_set is None:
        raise NotFound(f"ValueSet {url} is not known")
    expansion = terminology.expansion(url)
    if expansion is None:
        raise Unprocessable(f"ValueSet {url} cannot be expanded by this server (external terminology)")
    concepts = [c for c in expansion.concepts if _matches(c, text_filter)]
    end = len(concepts) if count is None else offset + min(count, MAX_EXPANSION_COUNT)
    result = {key: value for key, value in value_set.items() if key not in ("compose", "text", "expansion")}
    result["expansion"] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": len(concepts),
        "offset": offset,
        "parameter": _parameters(text_filter, count, offset),
        "contains": [_contains(c) for c in concepts[offset:end]],
    }
    if not result["expansion"]["parameter"]:
        del result["expansion"]["parameter"]
    return result


def _matches(concept: Concept, text_filter: str | None) -> bool:
    if not text_filter:
        return True
    needle = text_filter.casefold()
    return needle in concept.code.casefold() or needle in concept.display.casefold()


def _contains(concept: Concept) -> JsonDict:
    entry: JsonDict = {"system": concept.system, "code": concept.code}
    if concept.display:
        entry["display"] = concept.display
    return entry


def _parameters(text_filter: str | None, count: int | None, offset: int) -> list[JsonDict]:
    parameters: list[JsonDict] = []
    if text_filter:
        parameters.append({"name": "filter", "valueString": text_filter})
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    if offset:
        parameters.append({"name": "offset", "valueInteger": offset})
    return parameters
