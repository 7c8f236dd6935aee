"""``/metadata``: the CapabilityStatement whole, as its summary (``_summary=true``) or cut to
``_elements``, always with an ETag so a client can revalidate the ~1 MB statement with
``If-None-Match`` (304) instead of downloading it again.

The summary keeps, at every level, the elements the specification marks ``isSummary`` (generated
into ``fhir_server/spec/summary_trees.json``): per resource type its type, profiles and operations,
but not its interactions or search parameters. It is about 2 % of the whole statement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from fhir_server.conformance import spec_data
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.search.shaping import parse_elements, parse_summary, shape_resource, subsetted_meta

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class PublishedStatement:
    """The whole statement and a digest of its content (the same on every replica serving it)."""

    body: JsonDict
    digest: str
    # _summary forms already made (a handful at most: _elements lists are not kept)
    summaries: dict[str, tuple[JsonDict, str]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, body: JsonDict) -> PublishedStatement:
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
        return cls(body, digest)


def summary_form(resource: JsonDict, tree: JsonDict) -> JsonDict:
    """``resource`` with only the elements of ``tree`` (``{}``: keep the whole value), tagged
    SUBSETTED. A primitive's ``_name`` extension sibling goes with ``name``."""
    shaped = _prune(resource, tree)
    shaped["resourceType"] = resource["resourceType"]
    shaped["meta"] = subsetted_meta(resource.get("meta"))
    return shaped


def _prune(value: JsonDict, tree: JsonDict) -> JsonDict:
    kept: JsonDict = {}
    for key, item in value.items():
        subtree = tree.get(key.removeprefix("_"))
        if subtree is None:
            continue
        if not subtree or key.startswith("_"):
            kept[key] = item
        elif isinstance(item, list):
            kept[key] = [_prune(entry, subtree) if isinstance(entry, dict) else entry for entry in item]
        elif isinstance(item, dict):
            kept[key] = _prune(item, subtree)
        else:
            kept[key] = item
    return kept


def statement_for(
    published: PublishedStatement,
    *,
    summary: str | None,
    elements: str | None,
    registry: ConformanceRegistry,
) -> tuple[JsonDict, str]:
    """The statement as ``_summary`` / ``_elements`` ask (BadRequest naming a bad value), and its
    weak ETag: the content digest, plus the shape asked for when it is not the whole statement."""
    mode = parse_summary(summary) if summary is not None else None
    names = parse_elements(elements) if elements is not None else None
    if names is None and mode is not None and (made := published.summaries.get(mode)) is not None:
        return made
    shaped = _shape(published, mode, names, registry)
    if names is None and mode is not None:
        published.summaries[mode] = shaped
    return shaped


def _shape(
    published: PublishedStatement, mode: str | None, names: list[str] | None, registry: ConformanceRegistry
) -> tuple[JsonDict, str]:
    statement = published.body
    if mode == "true":
        body = summary_form(statement, spec_data.summary_tree(statement["resourceType"]))
    else:
        body = shape_resource(statement, summary=mode, elements=names, registry=registry)
    if body is statement:
        return body, f'W/"{published.digest}"'
    shape = hashlib.sha256(orjson.dumps([mode, sorted(names or [])])).hexdigest()[:8]
    return body, f'W/"{published.digest}-{shape}"'
