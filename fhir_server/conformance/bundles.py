"""Bundle rules that the base definitions state in prose (http://hl7.org/fhir/R4B/bundle.html):

- ``fullUrl`` is absolute (a URL, ``urn:uuid:`` or ``urn:oid:``) and, when it is a RESTful URL,
  ends with the entry resource's type and id;
- the same resource (type and id) appears once, except in a history bundle (versions) and
  the same fullUrl too (bdl-7 is also a FHIRPath invariant; reported here with the entry's index);
- in a document or message, every reference of an entry resolves to another entry of the bundle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fhir_server.errors import Issue

JsonDict = dict[str, Any]
_ABSOLUTE = re.compile(r"(https?://\S+|urn:uuid:[0-9a-fA-F-]{36}|urn:oid:[0-2](\.(0|[1-9][0-9]*))+)")
_RESTFUL = re.compile(r"^(?P<base>.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")
_HISTORY = re.compile(r"/_history/[^/]+$")
SELF_CONTAINED = frozenset({"document", "message"})


def _entries(bundle: JsonDict) -> Iterator[tuple[int, JsonDict]]:
    entries = bundle.get("entry")
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        if isinstance(entry, dict):
            yield index, entry


def _resource(entry: JsonDict) -> JsonDict | None:
    resource = entry.get("resource")
    return resource if isinstance(resource, dict) else None


def bundle_issues(bundle: JsonDict, location: str) -> list[Issue]:
    """The issues of a Bundle's entries (``location`` is the Bundle's expression)."""
    kind = bundle.get("type")
    issues: list[Issue] = []
    seen_urls: dict[tuple[str, Any], int] = {}
    seen_ids: dict[tuple[str, str, Any, Any], int] = {}
    for index, entry in _entries(bundle):
        where = f"{location}.entry[{index}]"
        resource = _resource(entry)
        full_url = entry.get("fullUrl")
        version = ((resource or {}).get("meta") or {}).get("versionId") if resource else None
        if isinstance(full_url, str):
            issues.extend(_full_url_issues(full_url, resource, f"{where}.fullUrl"))
            key = (full_url, version)
            if kind != "history" and key in seen_urls:
                message = f"The fullUrl of this entry is also the fullUrl of entry {seen_urls[key]}"
                issues.append(Issue("invariant", message, "error", (f"{where}.fullUrl",)))
            seen_urls.setdefault(key, index)
        if resource is not None and kind not in ("history", "searchset"):
            type_, id_ = resource.get("resourceType"), resource.get("id")
            if isinstance(type_, str) and isinstance(id_, str):
                # the same id on two servers, or two versions of one resource, are fine
                id_key = (type_, id_, _base_of(full_url), version)
                if id_key in seen_ids:
                    message = (
                        f"The resource {type_}/{id_} appears twice (entries {seen_ids[id_key]} and {index})"
                    )
                    issues.append(Issue("invalid", message, "error", (f"{where}.resource.id",)))
                seen_ids.setdefault(id_key, index)
    if kind in SELF_CONTAINED:
        issues.extend(_unresolved(bundle, location))
    return issues


def _full_url_issues(full_url: str, resource: JsonDict | None, where: str) -> list[Issue]:
    if not _ABSOLUTE.fullmatch(full_url):
        return [
            Issue("invalid", "The fullUrl must be an absolute URL or a urn:uuid / urn:oid", "error", (where,))
        ]
    if _HISTORY.search(full_url):
        return [Issue("invalid", "The fullUrl must not be a version specific URL", "error", (where,))]
    match = _RESTFUL.match(full_url) if full_url.startswith("http") else None
    if match is None or resource is None:
        return []
    # "SHALL NOT disagree": a resource without an id (a create) agrees with any id
    own_id = resource.get("id")
    if resource.get("resourceType") != match["type"] or (own_id is not None and own_id != match["id"]):
        message = "The fullUrl does not match the entry resource's type and id"
        return [Issue("invalid", message, "error", (where,))]
    return []


def _references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(reference, expression) of every Reference.reference below ``value``."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, dict):
            reference = current.get("reference")
            if isinstance(reference, str):
                yield reference, f"{where}.reference"
            for key, child in current.items():
                if key not in ("contained", "reference") and isinstance(child, dict | list):
                    stack.append((child, f"{where}.{key}"))
        elif isinstance(current, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(current))


def _unresolved(bundle: JsonDict, location: str) -> list[Issue]:
    """References that do not resolve inside a document or message bundle."""
    full_urls: set[str] = set()
    typed_ids: set[str] = set()
    for _, entry in _entries(bundle):
        if isinstance(entry.get("fullUrl"), str):
            full_urls.add(entry["fullUrl"])
        resource = _resource(entry)
        if resource is not None and isinstance(resource.get("id"), str):
            typed_ids.add(f"{resource.get('resourceType')}/{resource['id']}")
    issues = []
    for index, entry in _entries(bundle):
        resource = _resource(entry)
        if resource is None:
            continue
        own_base = _base_of(entry.get("fullUrl"))
        for reference, where in _references(resource, f"{location}.entry[{index}].resource"):
            if reference.startswith("#") or _resolves(reference, own_base, full_urls, typed_ids):
                continue
            message = (
                f"The reference {reference} does not resolve to an entry of this {bundle.get('type')} bundle"
            )
            issues.append(Issue("not-found", message, "error", (where,)))
    return issues


def _base_of(full_url: Any) -> str | None:
    if not isinstance(full_url, str):
        return None
    match = _RESTFUL.match(full_url)
    return match["base"] if match is not None else None


def _resolves(reference: str, base: str | None, full_urls: set[str], typed_ids: set[str]) -> bool:
    reference = _HISTORY.sub("", reference)
    if reference in full_urls:
        return True
    if reference.startswith("urn:"):
        return False
    if reference.startswith(("http://", "https://")):
        # another server's resource is out of the bundle's reach; one on the entries' server is not
        return base is None or _base_of(reference) != base
    if "?" in reference or not _RESTFUL.match(reference):
        return True  # conditional and other forms are for the receiving server to resolve
    return (base is not None and base + reference in full_urls) or reference in typed_ids
