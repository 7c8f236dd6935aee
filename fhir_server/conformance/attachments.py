"""Attachment consistency: when ``data`` is present, ``size`` and ``hash`` must describe it."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from fhir_server.conformance.primitives import check_primitive, decoded_base64
from fhir_server.errors import Issue


def attachment_issues(value: Any, location: str) -> list[Issue]:
    """``size`` is the number of bytes of the decoded ``data``; ``hash`` its base64 SHA-1."""
    if not isinstance(value, dict) or not isinstance(value.get("data"), str):
        return []
    if check_primitive("base64Binary", value["data"]) is not None:
        return []  # reported as a bad base64Binary already
    content = decoded_base64(value["data"])
    issues = []
    size = value.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size != len(content):
        message = f"The stated attachment size {size} does not match the size of the data ({len(content)})"
        issues.append(Issue("structure", message, "error", (f"{location}.size",)))
    stated = value.get("hash")
    if isinstance(stated, str) and check_primitive("base64Binary", stated) is None:
        actual = base64.b64encode(hashlib.sha1(content).digest()).decode()  # FHIR defines hash as SHA-1
        if decoded_base64(stated) != base64.b64decode(actual):
            message = "The stated attachment hash does not match the SHA-1 hash of the data"
            issues.append(Issue("structure", message, "error", (f"{location}.hash",)))
    return issues
