"""What a request is called in logs and metrics: route template, interaction, type, status class.

Label values must be few (every distinct value is a new time series) and must not carry data:
route templates (``/fhir/{type}/{id}``) instead of raw paths, whose ids a client may have chosen;
resource types and interactions bounded by shape and count, since routes may record them before
they are validated.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any, Final

UNMATCHED_ROUTE: Final = "unmatched"
NO_VALUE: Final = "none"
OTHER: Final = "other"

_RESOURCE_TYPE_SHAPE: Final = re.compile(r"[A-Z][A-Za-z]{1,63}")
# FHIR interactions ("search-type") and operations ("$everything", "$validate-code").
_INTERACTION_SHAPE: Final = re.compile(r"\$?[a-z][A-Za-z0-9_-]{0,63}")


class BoundedLabel:
    """Pass a value through while it has the expected shape and fewer than ``limit`` were seen."""

    def __init__(self, *, shape: re.Pattern[str], limit: int) -> None:
        self._shape = shape
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: object) -> str:
        if value is None:
            return NO_VALUE
        text = str(value)
        if text in self._seen:
            return text
        if not self._shape.fullmatch(text):
            return OTHER
        with self._lock:
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(text)
        return text


def resource_type_label() -> BoundedLabel:
    # R4B has about 145 resource types; room for custom ones, not for a flood of made-up names.
    return BoundedLabel(shape=_RESOURCE_TYPE_SHAPE, limit=256)


def interaction_label() -> BoundedLabel:
    return BoundedLabel(shape=_INTERACTION_SHAPE, limit=128)


def status_class(status: int) -> str:
    """``2xx``, ``4xx`` ...: the status label, coarse on purpose."""
    return f"{status // 100}xx"


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's path with each path parameter shown as ``{name}``.

    Rebuilt from the path and the matched parameters rather than read from the route object,
    because a route inside nested routers does not know its full prefix.
    """
    if scope.get("route") is None and "endpoint" not in scope:
        return UNMATCHED_ROUTE
    path: str = scope.get("path", "")
    params: Mapping[str, Any] = scope.get("path_params") or {}
    if not params:
        return path
    return _substitute(path.split("/"), [(name, str(value)) for name, value in params.items()])


def _substitute(segments: list[str], params: list[tuple[str, str]]) -> str:
    # Parameters come in template order: for each, take the first place at or after the previous
    # one where its value is a whole segment (or several, for ``{x:path}``), else where it sits
    # inside a segment (``$everything`` for ``${operation}``).
    out = list(segments)
    start = 0
    for name, value in params:
        placeholder = "{" + name + "}"
        parts = value.split("/")
        whole = next(
            (i for i in range(start, len(out) - len(parts) + 1) if out[i : i + len(parts)] == parts), None
        )
        if whole is not None:
            out[whole : whole + len(parts)] = [placeholder]
            start = whole + 1
            continue
        inside = next((i for i in range(start, len(out)) if value and value in out[i]), None)
        if inside is not None:
            out[inside] = out[inside].replace(value, placeholder, 1)
            start = inside + 1
    return "/".join(out)
