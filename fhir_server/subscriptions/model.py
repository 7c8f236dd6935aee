"""A Subscription resource, read into what the server acts on, or refused with 400/422.

Two forms, both R4B ``Subscription`` resources:

* **criteria** (R4 style): ``criteria`` is a search on one type (``Observation?code=...``); a
  notification for each created or updated resource that matches it afterwards (the R4 rule: no
  notification for deletions). ``channel.payload`` absent: an empty POST to the endpoint;
  ``application/fhir+json``: the resource PUT to ``{endpoint}/{type}/{id}``; with the backport
  ``payload-content`` extension ``id-only``: a notification Bundle naming the resource.
* **topic** (Subscriptions R5 Backport IG, ``backport-subscription`` profile): ``criteria`` is a
  SubscriptionTopic URL, the ``backport-filter-criteria`` extensions on ``_criteria`` narrow it;
  notifications are history Bundles with a SubscriptionStatus first.

Only the ``rest-hook`` channel is built; every other channel is refused when written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import parse_qsl

from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.fhirdates import parse_instant

BACKPORT: Final = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
BACKPORT_PROFILE: Final = BACKPORT + "backport-subscription"
FILTER_CRITERIA: Final = BACKPORT + "backport-filter-criteria"
HEARTBEAT_PERIOD: Final = BACKPORT + "backport-heartbeat-period"
TIMEOUT: Final = BACKPORT + "backport-timeout"
MAX_COUNT: Final = BACKPORT + "backport-max-count"
PAYLOAD_CONTENT: Final = BACKPORT + "backport-payload-content"
CHANNEL_TYPE: Final = BACKPORT + "backport-channel-type"

SUPPORTED_CHANNELS: Final = ("rest-hook",)
FHIR_JSON: Final = "application/fhir+json"
JSON_PAYLOADS: Final = frozenset({FHIR_JSON, "application/json"})
MAX_HEADERS: Final = 20
MAX_EVENTS_PER_NOTIFICATION: Final = 100
# Headers a subscription may not set: the server owns framing, the target and the payload's type.
_RESERVED_HEADERS: Final = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "te", "upgrade", "expect"}
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$")
_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


class Kind(StrEnum):
    CRITERIA = "criteria"
    TOPIC = "topic"


class Content(StrEnum):
    EMPTY = "empty"
    ID_ONLY = "id-only"
    FULL = "full-resource"


@dataclass(frozen=True)
class Filter:
    """One ``backport-filter-criteria``: search parameters on one type of the topic."""

    resource_type: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SubscriptionSpec:
    id: str
    status: str
    kind: Kind
    endpoint: str
    headers: tuple[tuple[str, str], ...]  # (name, value): values are secrets, never logged
    content: Content
    mime_type: str | None  # channel.payload
    heartbeat_seconds: int | None
    timeout_seconds: float | None
    max_count: int
    end: datetime | None
    # criteria form
    resource_type: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    # topic form
    topic: str | None = None
    filters: tuple[Filter, ...] = ()

    def filters_for(self, resource_type: str) -> list[tuple[str, str]]:
        return [pair for flt in self.filters if flt.resource_type == resource_type for pair in flt.params]


def _extensions(element: Any, url: str) -> list[dict[str, Any]]:
    if not isinstance(element, dict):
        return []
    return [e for e in element.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def _one_value(element: Any, url: str, key: str, where: str) -> Any:
    found = _extensions(element, url)
    if len(found) > 1:
        raise Unprocessable(f"at most one {url.rsplit('/', 1)[-1]} extension", (where,))
    return found[0].get(key) if found else None


def split_search(text: str, where: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``Type?a=1&b=2`` into the type and its parameters (400 when not of that shape)."""
    resource_type, question, query = text.strip().partition("?")
    if "/" in resource_type or not _TYPE.match(resource_type):
        raise BadRequest(f"'{text}' is not a search like Observation?code=...", (where,))
    params = tuple(parse_qsl(query, keep_blank_values=True)) if question else ()
    if any(not value for _, value in params):
        raise BadRequest(f"'{text}' has a parameter without a value", (where,))
    return resource_type, params


def _headers(channel: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    raw = channel.get("header") or []
    if len(raw) > MAX_HEADERS:
        raise Unprocessable(f"at most {MAX_HEADERS} channel headers", ("Subscription.channel.header",))
    parsed: list[tuple[str, str]] = []
    for index, text in enumerate(raw):
        where = f"Subscription.channel.header[{index}]"
        name, colon, value = str(text).partition(":")
        name, value = name.strip(), value.strip()
        # The value is never quoted back: it is typically a credential.
        if not colon or not _HEADER_NAME.match(name) or not value:
            raise BadRequest("a channel header must read 'Name: value'", (where,))
        if "\r" in value or "\n" in value or any(ord(c) < 0x20 and c != "\t" for c in value):
            raise BadRequest("a channel header value may not contain control characters", (where,))
        if name.lower() in _RESERVED_HEADERS:
            raise Unprocessable(f"the server sets the '{name}' header itself", (where,))
        parsed.append((name, value))
    return tuple(parsed)


def _channel_type(channel: dict[str, Any]) -> str:
    custom = _one_value(channel.get("_type"), CHANNEL_TYPE, "valueCoding", "Subscription.channel.type")
    if isinstance(custom, dict):
        return str(custom.get("code") or "custom")
    return str(channel.get("type") or "")


def _positive(value: Any, where: str, *, allow_zero: bool = False) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if allow_zero else 1):
        raise BadRequest("must be a positive whole number", (where,))
    return value


def parse_subscription(resource: dict[str, Any]) -> SubscriptionSpec:
    """What the server will act on; ``BadRequest``/``Unprocessable`` naming the element otherwise."""
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        raise BadRequest("a Subscription needs a channel", ("Subscription.channel",))
    channel_type = _channel_type(channel)
    if channel_type not in SUPPORTED_CHANNELS:
        raise Unprocessable(
            f"channel type '{channel_type}' is not supported; this server delivers rest-hook only",
            ("Subscription.channel.type",),
        )
    endpoint = channel.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise BadRequest("a rest-hook channel needs an endpoint", ("Subscription.channel.endpoint",))
    criteria = resource.get("criteria")
    if not isinstance(criteria, str) or not criteria.strip():
        raise BadRequest("a Subscription needs criteria", ("Subscription.criteria",))
    mime_type = channel.get("payload")
    content_code = _one_value(
        channel.get("_payload"), PAYLOAD_CONTENT, "valueCode", "Subscription.channel.payload"
    )
    topic_form = _is_topic_form(resource, criteria)
    content = _content(mime_type, content_code, topic_form)
    if mime_type is not None and mime_type not in JSON_PAYLOADS:
        raise Unprocessable(
            f"payload '{mime_type}' is not supported; use {FHIR_JSON}", ("Subscription.channel.payload",)
        )
    heartbeat = _positive(
        _one_value(channel, HEARTBEAT_PERIOD, "valueUnsignedInt", "Subscription.channel"),
        "Subscription.channel.extension",
    )
    timeout = _positive(
        _one_value(channel, TIMEOUT, "valueUnsignedInt", "Subscription.channel"),
        "Subscription.channel.extension",
    )
    max_count = _positive(
        _one_value(channel, MAX_COUNT, "valuePositiveInt", "Subscription.channel"),
        "Subscription.channel.extension",
    )
    if max_count is not None and max_count > MAX_EVENTS_PER_NOTIFICATION:
        raise Unprocessable(
            f"maxCount may be at most {MAX_EVENTS_PER_NOTIFICATION}", ("Subscription.channel.extension",)
        )
    end = parse_instant(resource["end"], name="Subscription.end") if resource.get("end") else None
    common: dict[str, Any] = {
        "id": str(resource.get("id") or ""),
        "status": str(resource.get("status") or "requested"),
        "endpoint": endpoint,
        "headers": _headers(channel),
        "content": content,
        "mime_type": mime_type,
        "heartbeat_seconds": heartbeat,
        "timeout_seconds": float(timeout) if timeout is not None else None,
        "max_count": max_count or 1,
        "end": end,
    }
    if topic_form:
        filters = tuple(
            Filter(*split_search(str(ext.get("valueString") or ""), "Subscription.criteria.extension"))
            for ext in _extensions(resource.get("_criteria"), FILTER_CRITERIA)
        )
        return SubscriptionSpec(kind=Kind.TOPIC, topic=criteria.strip(), filters=filters, **common)
    resource_type, params = split_search(criteria, "Subscription.criteria")
    if _extensions(resource.get("_criteria"), FILTER_CRITERIA):
        raise Unprocessable(
            "filter criteria apply to topic-based subscriptions only", ("Subscription.criteria.extension",)
        )
    return SubscriptionSpec(kind=Kind.CRITERIA, resource_type=resource_type, params=params, **common)


def _is_topic_form(resource: dict[str, Any], criteria: str) -> bool:
    profiles = (resource.get("meta") or {}).get("profile") or []
    return BACKPORT_PROFILE in profiles or criteria.strip().startswith(("http://", "https://", "urn:"))


def _content(mime_type: Any, code: Any, topic_form: bool) -> Content:
    if code is not None:
        try:
            return Content(str(code))
        except ValueError:
            raise Unprocessable(
                f"payload content '{code}' is not one of empty, id-only, full-resource",
                ("Subscription.channel.payload",),
            ) from None
    if mime_type is None:
        return Content.EMPTY
    # R4 style: a payload type means the resource is sent; the backport IG's default is id-only.
    return Content.ID_ONLY if topic_form else Content.FULL
