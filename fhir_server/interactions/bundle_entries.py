"""Parsing and checking a batch/transaction Bundle into typed entries, before anything runs.

Every structural problem is a 400 that names the entry (``Bundle.entry[3]``), so a client can fix
its bundle; nothing is written when the bundle is malformed, whether batch or transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from fhir_server.errors import BadRequest, PayloadTooLarge
from fhir_server.resources import ID_PATTERN
from fhir_server.services import TypeRegistry

BUNDLE_TYPES = {"batch": "batch-response", "transaction": "transaction-response"}
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ETAG = re.compile(r'^(?:W/)?"?([0-9]+)"?$')


class Target(StrEnum):
    """What an entry's request URL addresses."""

    SYSTEM = "system"  # "" or "?query"
    TYPE = "type"  # "Patient" or "Patient?query" (search, create, conditional write)
    INSTANCE = "instance"  # "Patient/1"
    VERSION = "version"  # "Patient/1/_history/2"


@dataclass(frozen=True)
class EntryUrl:
    target: Target
    resource_type: str | None = None
    resource_id: str | None = None
    version: str | None = None
    query: str | None = None  # without the "?"; None when the URL has no query

    @property
    def key(self) -> str | None:
        """``Type/id`` for an instance URL."""
        if self.resource_type is None or self.resource_id is None:
            return None
        return f"{self.resource_type}/{self.resource_id}"


@dataclass(frozen=True)
class BundleEntry:
    index: int
    full_url: str | None
    method: str
    url: EntryUrl
    resource: dict[str, Any] | None
    if_none_exist: str | None = None
    if_match: int | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None

    @property
    def label(self) -> str:
        """How errors name this entry: index, and fullUrl when there is one."""
        return f"entry {self.index}" + (f" ({self.full_url})" if self.full_url else "")

    @property
    def expression(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def is_conditional(self) -> bool:
        return self.url.target is Target.TYPE and self.url.query is not None

    @property
    def resource_type(self) -> str | None:
        return self.url.resource_type


@dataclass(frozen=True)
class ParsedBundle:
    kind: str  # "batch" or "transaction"
    entries: list[BundleEntry]

    @property
    def resource_types(self) -> set[str]:
        types = {entry.resource_type for entry in self.entries if entry.resource_type}
        types.update(
            str(entry.resource["resourceType"])
            for entry in self.entries
            if entry.resource is not None and isinstance(entry.resource.get("resourceType"), str)
        )
        return types


# FHIR's processing order (http.html#trules), for transactions and, as the spec expects, batches.
PROCESSING_PHASES: tuple[frozenset[str], ...] = (
    frozenset({"DELETE"}),
    frozenset({"POST"}),
    frozenset({"PUT", "PATCH"}),
    frozenset({"GET", "HEAD"}),
)


def in_processing_order(entries: list[BundleEntry]) -> list[BundleEntry]:
    """DELETE, POST, PUT/PATCH, then GET/HEAD entries; bundle order within each group."""
    return [entry for methods in PROCESSING_PHASES for entry in entries if entry.method in methods]


def _entry_error(index: int, full_url: str | None, message: str, where: str = "") -> BadRequest:
    label = f"entry {index}" + (f" ({full_url})" if full_url else "")
    return BadRequest(f"{label}: {message}", (f"Bundle.entry[{index}]{where}",))


# Which URL shapes each method accepts; a query on a TYPE URL makes a write conditional.
_ALLOWED_TARGETS: dict[str, set[Target]] = {
    "GET": {Target.SYSTEM, Target.TYPE, Target.INSTANCE, Target.VERSION},
    "HEAD": {Target.SYSTEM, Target.TYPE, Target.INSTANCE, Target.VERSION},
    "POST": {Target.TYPE},
    "PUT": {Target.TYPE, Target.INSTANCE},
    "PATCH": {Target.TYPE, Target.INSTANCE},
    "DELETE": {Target.TYPE, Target.INSTANCE},
}
_NEEDS_RESOURCE = {"POST", "PUT", "PATCH"}
_NEEDS_QUERY = {"PUT", "PATCH", "DELETE"}  # on a TYPE URL: a conditional write needs its condition


def parse_entry_url(raw: str, base_url: str) -> EntryUrl:
    """The target of a request URL (relative to the base, or absolute on this server); ValueError if bad."""
    url = raw.strip()
    base = base_url.rstrip("/")
    if "://" in url.split("?", 1)[0]:  # absolute (a query may hold URLs: identifier=http://...|1)
        if not url.startswith(base + "/") and url != base:
            raise ValueError("an absolute URL must be on this server")
        url = url[len(base) :]
    parts = urlsplit(url.lstrip("/"))
    if parts.scheme or parts.netloc or parts.fragment:
        raise ValueError("not a URL relative to the server base")
    query = parts.query if "?" in url else None
    segments = [segment for segment in parts.path.split("/") if segment] if parts.path else []
    if not segments:
        return EntryUrl(Target.SYSTEM, query=query)
    resource_type = segments[0]
    if not _TYPE_NAME.match(resource_type):
        raise ValueError(f"'{resource_type}' is not a resource type")
    if len(segments) == 1:
        return EntryUrl(Target.TYPE, resource_type, query=query)
    if query is not None:
        raise ValueError("an instance URL takes no query")
    resource_id = segments[1]
    if not ID_PATTERN.match(resource_id):
        raise ValueError(f"'{resource_id}' is not a valid resource id")
    if len(segments) == 2:
        return EntryUrl(Target.INSTANCE, resource_type, resource_id)
    if len(segments) == 4 and segments[2] == "_history":
        return EntryUrl(Target.VERSION, resource_type, resource_id, version=segments[3])
    raise ValueError("only [type], [type]/[id], [type]/[id]/_history/[vid] and [type]?query are supported")


def parse_if_match(value: Any) -> int:
    if not isinstance(value, str) or (match := _ETAG.match(value.strip())) is None:
        raise ValueError(f"ifMatch '{value}' is not a version ETag like W/\"3\"")
    return int(match.group(1))


def _optional_string(request: dict[str, Any], name: str) -> str | None:
    value = request.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"request.{name} must be a string")
    return value


def parse_entry(index: int, raw: Any, *, base_url: str, registry: TypeRegistry) -> BundleEntry:
    """One entry, checked; a 400 naming the entry when its request cannot be carried out."""
    if not isinstance(raw, dict):
        raise _entry_error(index, None, "an entry must be a JSON object")
    full_url = raw.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise _entry_error(index, None, "fullUrl must be a string", ".fullUrl")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise _entry_error(index, full_url, "the entry has no request", ".request")
    method = request.get("method")
    if not isinstance(method, str) or method not in _ALLOWED_TARGETS:
        message = f"request.method '{method}' is not GET, HEAD, POST, PUT, PATCH or DELETE"
        raise _entry_error(index, full_url, message, ".request.method")
    raw_url = request.get("url")
    if not isinstance(raw_url, str):
        raise _entry_error(index, full_url, "the entry has no request.url", ".request.url")
    try:
        url = parse_entry_url(raw_url, base_url)
    except ValueError as error:
        raise _entry_error(index, full_url, f"request.url '{raw_url}': {error}", ".request.url") from None
    if url.target not in _ALLOWED_TARGETS[method] or (
        method in _NEEDS_QUERY and url.target is Target.TYPE and not url.query
    ):
        raise _entry_error(index, full_url, f"{method} {raw_url} is not supported", ".request.url")
    if method == "POST" and url.query is not None:
        raise _entry_error(index, full_url, "POST takes no query; use ifNoneExist", ".request.url")
    if url.resource_type is not None and not registry.is_resource_type(url.resource_type):
        raise _entry_error(
            index, full_url, f"'{url.resource_type}' is not a resource type this server knows", ".request.url"
        )
    resource = raw.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise _entry_error(index, full_url, "resource must be a JSON object", ".resource")
    if method in _NEEDS_RESOURCE and resource is None:
        raise _entry_error(index, full_url, f"a {method} entry needs a resource", ".resource")
    try:
        if_match_raw = request.get("ifMatch")
        return BundleEntry(
            index=index,
            full_url=full_url,
            method=method,
            url=url,
            resource=resource if method in _NEEDS_RESOURCE else None,
            if_none_exist=_optional_string(request, "ifNoneExist"),
            if_match=parse_if_match(if_match_raw) if if_match_raw is not None else None,
            if_none_match=_optional_string(request, "ifNoneMatch"),
            if_modified_since=_optional_string(request, "ifModifiedSince"),
        )
    except ValueError as error:
        raise _entry_error(index, full_url, str(error), ".request") from None


def check_bundle_kind(body: dict[str, Any]) -> str:
    """``batch`` or ``transaction``; 400 for anything that is not such a Bundle."""
    if body.get("resourceType") != "Bundle":
        raise BadRequest(
            "POST to the base URL takes a Bundle of type batch or transaction", ("resourceType",)
        )
    kind = body.get("type")
    if kind not in BUNDLE_TYPES:
        raise BadRequest(f"Bundle.type must be batch or transaction, not '{kind}'", ("Bundle.type",))
    return str(kind)


def parse_bundle(
    body: dict[str, Any], *, base_url: str, registry: TypeRegistry, max_entries: int
) -> ParsedBundle:
    """The bundle's kind and entries; 400 for anything malformed, 413 past ``max_entries``."""
    kind = check_bundle_kind(body)
    raw_entries = body.get("entry", [])
    if not isinstance(raw_entries, list):
        raise BadRequest("Bundle.entry must be a list", ("Bundle.entry",))
    if len(raw_entries) > max_entries:
        raise PayloadTooLarge(
            f"the bundle has {len(raw_entries)} entries; this server accepts at most {max_entries}",
            ("Bundle.entry",),
        )
    entries = [
        parse_entry(index, raw, base_url=base_url, registry=registry) for index, raw in enumerate(raw_entries)
    ]
    if kind == "transaction":
        _check_unique_full_urls(entries)
        _check_distinct_identities(entries)
    return ParsedBundle(kind=kind, entries=entries)


def _check_unique_full_urls(entries: list[BundleEntry]) -> None:
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.full_url is None:
            continue
        if entry.full_url in seen:
            raise BadRequest(
                f"{entry.label}: the fullUrl is already used by entry {seen[entry.full_url]}",
                (f"{entry.expression}.fullUrl",),
            )
        seen[entry.full_url] = entry.index


def _check_distinct_identities(entries: list[BundleEntry]) -> None:
    """A transaction may not write the same resource twice (the spec's overlap rule, for explicit ids)."""
    seen: dict[str, int] = {}
    for entry in entries:
        key = entry.url.key
        if entry.method in {"GET", "HEAD"} or key is None:
            continue
        if key in seen:
            raise BadRequest(
                f"{entry.label}: {key} is also written by entry {seen[key]}; a transaction changes "
                "each resource once",
                (f"{entry.expression}.request.url",),
            )
        seen[key] = entry.index
