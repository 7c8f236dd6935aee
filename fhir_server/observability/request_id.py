"""Request ids: accept a sane incoming ``X-Request-ID`` or make one, and keep it for the logs."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Final

REQUEST_ID_HEADER: Final = "x-request-id"
MAX_REQUEST_ID_LENGTH: Final = 128

# Letters, digits and a few separators: enough for UUIDs, ULIDs and trace ids of common proxies,
# nothing that could break a log line or a header.
_ACCEPTABLE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:\-]{{0,{MAX_REQUEST_ID_LENGTH - 1}}}")

current_request_id: ContextVar[str | None] = ContextVar("fhir_request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(incoming: str | None) -> str:
    """The caller's request id when it is well-formed, otherwise a fresh one."""
    if incoming is not None and _ACCEPTABLE.fullmatch(incoming):
        return incoming
    return new_request_id()
