"""Parsing and checking a batch/transaction Bundle into typed entries, before anything runs.

Every structural problem is a 400 that names the entry (``Bundle.entry[3]``), so a client can fix
its bundle; nothing is written when the bundle is malformed, whether batch or transaction. Each
entry's request is matched against the same dispatch table as the REST API, so an entry may ask
for anything a REST call may (operations, history, compartment search ...), and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, FhirError, PayloadTooLarge
from fhir_server.interactions.call import Call, Conditions, ReturnPreference
from fhir_server.interactions.crud import encode_condition
from fhir_server.interactions.patch import JSON_PATCH
from fhir_server.interactions.route import BodyKind, Route
from fhir_server.interactions.target import NotAFhirPath, Shape, Target, parse_target
from fhir_server.jsonio import parse_json
from fhir_server.store.repository import Session

BUNDLE_TYPES: Final = {"batch": "batch-response", "transaction": "transaction-response"}
_ETAG: Final = re.compile(r'^(?:W/)?"?([0-9]+)"?$')
FHIR_JSON: Final = "application/fhir+json"

RouteOf = Callable[[str, Target], Route]


@dataclass(frozen=True)
class BundleEntry:
    index: int
    full_url: str | None
    method: str
    target: Target
    params: list[tuple[str, str]]
    route: Route
    resource: dict[str, Any] | None
    conditions: Conditions

    @property
    def label(self) -> str:
        """How errors name this entry: index, and fullUrl when there is one."""
        return f"entry {self.index}" + (f" ({self.full_url})" if self.full_url else "")

    @property
    def expression(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def resource_type(self) -> str | None:
        return self.target.resource_type

    @property
    def query(self) -> str:
        return encode_condition(self.params)

    @property
    def writes(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"}

    @property
    def is_conditional(self) -> bool:
        """A conditional write: PUT, PATCH or DELETE on a type, with its condition as the query."""
        return self.target.shape is Shape.TYPE and self.method in {"PUT", "PATCH", "DELETE"}

    def call(
        self,
        *,
        ctx: RequestContext,
        prefer: ReturnPreference,
        resource: dict[str, Any] | None,
        session: Session | None = None,
        assigned_id: str | None = None,
    ) -> Call:
        """The entry's request as a call of the pipeline, carrying ``resource`` (the entry's own,
        with references rewritten by a transaction)."""
        body, content_type = self._body(resource)
        return Call(
            method=self.method,
            target=self.target,
            ctx=ctx,
            params=self.params,
            body=body,
            content_type=content_type,
            conditions=self.conditions,
            prefer_return=prefer,
            session=session,
            assigned_id=assigned_id,
        )

    def _body(self, resource: dict[str, Any] | None) -> tuple[Any, str | None]:
        """(body, content type): a PATCH entry's Binary holds a JSON Patch."""
        if self.method != "PATCH" or resource is None or resource.get("resourceType") != "Binary":
            return resource, FHIR_JSON if resource is not None else None
        if resource.get("contentType") != JSON_PATCH:
            raise BadRequest(f"a Binary patch must have contentType {JSON_PATCH}", ("Binary.contentType",))
        try:
            raw = base64.b64decode(str(resource.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("Binary.data is not valid base64", ("Binary.data",)) from None
        return parse_json(raw), JSON_PATCH


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


def parse_entry_url(raw: str, base_url: str) -> tuple[Target, list[tuple[str, str]]]:
    """The target and query parameters of a request URL (relative to the base, or absolute on this
    server); ValueError if it is neither."""
    url = raw.strip()
    base = base_url.rstrip("/")
    if "://" in url.split("?", 1)[0]:  # absolute (a query may hold URLs: identifier=http://...|1)
        if not url.startswith(base + "/") and url != base and not url.startswith(base + "?"):
            raise ValueError("an absolute URL must be on this server")
        url = url[len(base) :]
    parts = urlsplit(url.lstrip("/"))
    if parts.scheme or parts.netloc or parts.fragment:
        raise ValueError("not a URL relative to the server base")
    try:
        target = parse_target(parts.path)
    except NotAFhirPath as error:
        raise ValueError(str(error)) from None
    return target, parse_qsl(parts.query, keep_blank_values=True)


def parse_if_match(value: Any) -> int:
    if not isinstance(value, str) or (match := _ETAG.match(value.strip())) is None:
        raise ValueError(f"ifMatch '{value}' is not a version ETag like W/\"3\"")
    return int(match.group(1))


def _optional_string(request: dict[str, Any], name: str) -> str | None:
    value = request.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"request.{name} must be a string")
    return value


_NEEDS_RESOURCE: Final = frozenset({BodyKind.RESOURCE, BodyKind.RESOURCE_OR_RAW, BodyKind.PATCH})


def parse_entry(index: int, raw: Any, *, base_url: str, route_of: RouteOf) -> BundleEntry:
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
    if not isinstance(method, str) or method not in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}:
        message = f"request.method '{method}' is not GET, HEAD, POST, PUT, PATCH or DELETE"
        raise _entry_error(index, full_url, message, ".request.method")
    raw_url = request.get("url")
    if not isinstance(raw_url, str):
        raise _entry_error(index, full_url, "the entry has no request.url", ".request.url")
    try:
        target, params = parse_entry_url(raw_url, base_url)
    except ValueError as error:
        raise _entry_error(index, full_url, f"request.url '{raw_url}': {error}", ".request.url") from None
    if target.shape is Shape.TYPE and method in {"PUT", "PATCH", "DELETE"} and not params:
        raise _entry_error(index, full_url, f"{method} {raw_url} needs an id or a condition", ".request.url")
    if target.shape is Shape.SYSTEM and method == "POST":
        raise _entry_error(
            index, full_url, "a bundle cannot contain another batch or transaction", ".request"
        )
    try:
        route = route_of(method, target)
    except FhirError as error:
        raise _entry_error(
            index, full_url, f"{method} {raw_url}: {error.diagnostics}", ".request.url"
        ) from None
    resource = raw.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise _entry_error(index, full_url, "resource must be a JSON object", ".resource")
    if route.body in _NEEDS_RESOURCE and resource is None:
        raise _entry_error(index, full_url, f"a {method} entry needs a resource", ".resource")
    try:
        if_match_raw = request.get("ifMatch")
        conditions = Conditions(
            if_match=parse_if_match(if_match_raw) if if_match_raw is not None else None,
            if_none_exist=_optional_string(request, "ifNoneExist"),
            if_none_match=_optional_string(request, "ifNoneMatch"),
            if_modified_since=_optional_string(request, "ifModifiedSince"),
        )
    except ValueError as error:
        raise _entry_error(index, full_url, str(error), ".request") from None
    return BundleEntry(
        index=index,
        full_url=full_url,
        method=method,
        target=target,
        params=params,
        route=route,
        resource=resource if route.body is not BodyKind.NONE else None,
        conditions=conditions,
    )


def check_bundle_kind(body: Any) -> str:
    """``batch`` or ``transaction``; 400 for anything that is not such a Bundle."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise BadRequest(
            "POST to the base URL takes a Bundle of type batch or transaction", ("resourceType",)
        )
    kind = body.get("type")
    if kind not in BUNDLE_TYPES:
        raise BadRequest(f"Bundle.type must be batch or transaction, not '{kind}'", ("Bundle.type",))
    return str(kind)


def parse_bundle(body: dict[str, Any], *, base_url: str, route_of: RouteOf, max_entries: int) -> ParsedBundle:
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
        parse_entry(index, raw, base_url=base_url, route_of=route_of) for index, raw in enumerate(raw_entries)
    ]
    if kind == "transaction":
        _check_transaction_entries(entries)
        _check_unique_full_urls(entries)
        _check_distinct_identities(entries)
    return ParsedBundle(kind=kind, entries=entries)


def _check_transaction_entries(entries: list[BundleEntry]) -> None:
    for entry in entries:
        if not entry.route.in_transaction:
            raise BadRequest(
                f"{entry.label}: {entry.method} {entry.target.path()} cannot be part of a transaction",
                (f"{entry.expression}.request",),
            )


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
        key = entry.target.key if entry.target.shape is Shape.INSTANCE else None
        if not entry.writes or key is None:
            continue
        if key in seen:
            raise BadRequest(
                f"{entry.label}: {key} is also written by entry {seen[key]}; a transaction changes "
                "each resource once",
                (f"{entry.expression}.request.url",),
            )
        seen[key] = entry.index
