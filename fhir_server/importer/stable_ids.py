"""Stable ids: importing the same file again, or again after a crash, writes the same resources.

An import can be killed between two of its transactions; the way to finish it is to run it
again. With FHIR's POST semantics that would store a second copy of everything the first run
committed, so before a bundle is processed every unconditional create in it becomes an update of
an id derived from the source (update-as-create), decided by the file alone:

1. the resource's own id, when it has a valid one (the source's ids are kept);
   or the id of a RESTful fullUrl of the same type (which the resource's id must agree with);
2. else the UUID of an ``urn:uuid:`` fullUrl (RFC 4122: unique by construction);
3. else a UUIDv5 of the file's SHA-256 and the entry's other fullUrl, or its position.

Why ids and not a journal of finished bundles: a journal written after a bundle commits has a
window (crash between the commit and the journal write) in which a re-run duplicates that bundle;
ids make every bundle idempotent by itself, with nothing to keep consistent, and a re-run whose
content is unchanged is a series of no-op updates. Conditional creates (``ifNoneExist``) are
idempotent already and stay as they are.

Inline attachment bytes of DocumentReference and Media would get a new Binary (and the document a
new version) on every run, so they become Binary entries of their own, with ids derived from the
document's id and the attachment's place; the document then points at them (``Binary/<id>``),
with the size and hash the server would have computed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from fhir_server.resources import ID_PATTERN
from fhir_server.store.attachments import ATTACHMENT_RULES

JsonDict = dict[str, Any]
# A fixed namespace: the same source gives the same ids on every machine and every run.
IMPORT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/fhir-server/import")
_URN_UUID: Final = "urn:uuid:"
_RESTFUL_ID: Final = re.compile(r"^https?://.*/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")


def file_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _uuid_of_urn(full_url: Any) -> str | None:
    if not isinstance(full_url, str) or not full_url.startswith(_URN_UUID):
        return None
    try:
        return str(uuid.UUID(full_url.removeprefix(_URN_UUID)))
    except ValueError:
        return None


def stable_id(resource: JsonDict, full_url: Any, *, digest: str, position: int) -> str:
    """The id an unconditional create of ``resource`` gets (see the module docstring)."""
    own = resource.get("id")
    if isinstance(own, str) and ID_PATTERN.match(own):
        return own
    named = _RESTFUL_ID.match(full_url) if isinstance(full_url, str) else None
    if named is not None and named["type"] == resource.get("resourceType"):
        return named["id"]  # the source's RESTful identity (the fullUrl must agree with the id)
    from_urn = _uuid_of_urn(full_url)
    if from_urn is not None:
        return from_urn
    origin = full_url if isinstance(full_url, str) and full_url else f"#{position}"
    return str(uuid.uuid5(IMPORT_NAMESPACE, f"{digest}:{origin}"))


def _is_plain_create(entry: JsonDict) -> bool:
    request, resource = entry.get("request"), entry.get("resource")
    return (
        isinstance(request, dict)
        and isinstance(resource, dict)
        and request.get("method") == "POST"
        and "ifNoneExist" not in request
        and request.get("url") == resource.get("resourceType")
    )


def _binary_entry(binary_id: str, attachment: JsonDict, subject: Any) -> JsonDict | None:
    """A PUT of the attachment's bytes as ``Binary/<binary_id>``, or None when they do not decode
    (the server then refuses the document with its own message)."""
    data, content_type = attachment.get("data"), attachment.get("contentType")
    if not isinstance(data, str) or not isinstance(content_type, str):
        return None
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except binascii.Error:
        return None
    binary: JsonDict = {"resourceType": "Binary", "id": binary_id, "contentType": content_type, "data": data}
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if isinstance(reference, str):
        binary["securityContext"] = {"reference": reference}  # as the server does for attachments
    attachment.pop("data")
    attachment["url"] = f"Binary/{binary_id}"
    attachment.setdefault("size", len(raw))
    attachment.setdefault("hash", base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii"))
    return {
        "fullUrl": f"{_URN_UUID}{binary_id}",
        "resource": binary,
        "request": {"method": "PUT", "url": f"Binary/{binary_id}"},
    }


def _attachment_binaries(resource: JsonDict, resource_id: str) -> list[JsonDict]:
    rule = ATTACHMENT_RULES.get(str(resource.get("resourceType")))
    if rule is None:
        return []
    entries = []
    for place, path in enumerate(rule.sites(resource)):
        node: Any = resource
        for step in path:
            node = node[step]
        if not isinstance(node, dict) or "data" not in node:
            continue
        binary_id = str(uuid.uuid5(IMPORT_NAMESPACE, f"{resource['resourceType']}/{resource_id}#{place}"))
        entry = _binary_entry(binary_id, node, resource.get("subject"))
        if entry is not None:
            entries.append(entry)
    return entries


@dataclass(frozen=True)
class StableBundle:
    """A bundle with stable ids. ``origins``: for each of its entries, the index of the source
    entry it comes from; ``added``: indexes of the Binary entries made from inline attachments."""

    bundle: JsonDict
    origins: list[int]
    added: frozenset[int]


def with_stable_ids(bundle: JsonDict, *, digest: str, positions: Sequence[int] | None = None) -> StableBundle:
    """The bundle with stable ids (changed in place; see the module docstring).

    ``positions``: each entry's place in the source file (NDJSON line numbers); default its index."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return StableBundle(bundle, [], frozenset())
    rewritten: list[JsonDict] = []
    origins: list[int] = []
    added: set[int] = set()
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and _is_plain_create(entry):
            resource = entry["resource"]
            position = positions[index] if positions is not None else index
            resource_id = stable_id(resource, entry.get("fullUrl"), digest=digest, position=position)
            resource["id"] = resource_id
            entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource_id}"}
            for binary in _attachment_binaries(resource, resource_id):
                added.add(len(rewritten))
                rewritten.append(binary)
                origins.append(index)
        rewritten.append(entry)
        origins.append(index)
    bundle["entry"] = rewritten
    return StableBundle(bundle, origins, frozenset(added))
