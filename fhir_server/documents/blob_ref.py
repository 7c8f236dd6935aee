"""Where a Binary's bytes are: a blob reference kept in the Binary's ``meta``.

A stored Binary carries no ``data``; its bytes live in the blob store under a server-generated
key. The key (with the size and base64 SHA-1 of the bytes) is kept in one complex extension on
``Binary.meta`` (Binary itself has no ``extension`` element)::

    "meta": {"extension": [{"url": BINARY_BLOB_URL, "extension": [
        {"url": "key", "valueString": "<32 hex>"},
        {"url": "size", "valueInteger": 12345},
        {"url": "hash", "valueBase64Binary": "<sha1>"}]}]}

Keeping it in the resource (rather than a side field) means history, vread, transactions and
search carry it for free. The key is an opaque random token, not a capability: the blob store is
never reachable without the server, and a client cannot point a Binary at a blob of its choosing
(see ``fhir_server.documents.transforms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fhir_server.store.attachments import ATTACHMENT_RULES
from fhir_server.store.blobs import StoredBlob
from fhir_server.store.references import reference_key

BINARY_BLOB_URL: Final = "http://clinic.example.org/fhir/StructureDefinition/binary-blob"
_MAX_FHIR_INTEGER: Final = 2**31 - 1  # valueInteger is a signed 32-bit integer

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class BlobRef:
    key: str
    size: int | None  # None when too large for valueInteger (ask the store)
    sha1_base64: str | None

    @classmethod
    def of(cls, blob: StoredBlob) -> BlobRef:
        return cls(key=blob.key, size=blob.size, sha1_base64=blob.sha1_base64)

    def extension(self) -> JsonDict:
        parts: list[JsonDict] = [{"url": "key", "valueString": self.key}]
        if self.size is not None and self.size <= _MAX_FHIR_INTEGER:
            parts.append({"url": "size", "valueInteger": self.size})
        if self.sha1_base64 is not None:
            parts.append({"url": "hash", "valueBase64Binary": self.sha1_base64})
        return {"url": BINARY_BLOB_URL, "extension": parts}


def _is_blob_extension(value: Any) -> bool:
    return isinstance(value, dict) and value.get("url") == BINARY_BLOB_URL


def _meta_extensions(resource: JsonDict) -> list[Any]:
    meta = resource.get("meta")
    extensions = meta.get("extension") if isinstance(meta, dict) else None
    return extensions if isinstance(extensions, list) else []


def blob_ref_of(binary: JsonDict) -> BlobRef | None:
    """The blob reference a Binary claims, or None (also for a malformed one)."""
    found = next((ext for ext in _meta_extensions(binary) if _is_blob_extension(ext)), None)
    if found is None or not isinstance(found.get("extension"), list):
        return None
    values = {
        part.get("url"): next((v for k, v in part.items() if k.startswith("value")), None)
        for part in found["extension"]
        if isinstance(part, dict)
    }
    key, size, sha1 = values.get("key"), values.get("size"), values.get("hash")
    if not isinstance(key, str):
        return None
    return BlobRef(
        key=key,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        sha1_base64=sha1 if isinstance(sha1, str) else None,
    )


def with_blob_ref(binary: JsonDict, ref: BlobRef) -> JsonDict:
    """A copy of the Binary without ``data``, whose blob reference is ``ref`` (any other replaced)."""
    result = {name: value for name, value in binary.items() if name != "data"}
    meta = dict(binary.get("meta") or {})
    others = [ext for ext in _meta_extensions(binary) if not _is_blob_extension(ext)]
    meta["extension"] = [*others, ref.extension()]
    result["meta"] = meta
    return result


def binary_resource(*, ref: BlobRef, content_type: str, security_context: str | None) -> JsonDict:
    """A new Binary for stored bytes; ``security_context`` is a reference like ``Patient/1``."""
    binary: JsonDict = {"resourceType": "Binary", "contentType": content_type}
    if security_context is not None:
        binary["securityContext"] = {"reference": security_context}
    return with_blob_ref(binary, ref)


def binary_id_of_url(url: Any, base_url: str) -> str | None:
    """The id of a Binary on this server an attachment URL points at (``Binary/1``, absolute or
    relative, versioned or not), else None."""
    if not isinstance(url, str):
        return None
    key = reference_key(url, base_url)
    if key is None or not key.startswith("Binary/"):
        return None
    return key.removeprefix("Binary/")


def attachment_binary_ids(resource: JsonDict, base_url: str) -> set[str]:
    """Ids of the Binaries a DocumentReference's or Media's attachments point at (empty for other types)."""
    rule = ATTACHMENT_RULES.get(str(resource.get("resourceType")))
    if rule is None:
        return set()
    found: set[str] = set()
    for path in rule.sites(resource):
        node: Any = resource
        for step in path:
            node = node[step]
        binary_id = binary_id_of_url(node.get("url"), base_url)
        if binary_id is not None:
            found.add(binary_id)
    return found
