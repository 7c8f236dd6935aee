"""Inline attachment bytes moved out of resources into the blob store.

A DocumentReference or Media written with ``attachment.data`` (base64) would keep those bytes in
MongoDB (16 MB document limit, and every read would carry them). ``externalize_attachments``
stores each inline attachment's bytes in the blob store, validated for the resource's purpose
(DocumentReference: document, Media: image), asks the caller to make a Binary for each blob, and
returns a copy of the resource where ``data`` is replaced by ``url`` (the Binary reference), with
``size`` and ``hash`` (base64 SHA-1) set. A ``size`` or ``hash`` the client sent must match the
bytes. A ``url`` the client sent next to ``data`` is replaced: the bytes we keep are the reference.

All blobs are stored before any Binary is made; if anything fails, the blobs stored by this call
and not yet handed to ``make_binary`` are deleted. Binaries already made belong to the caller (the
surrounding transaction rolls them back). The input resource is never modified.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anyio

from fhir_server.errors import BadRequest
from fhir_server.store.blobs import BlobStore, Purpose, StoredBlob

JsonPath = tuple[str | int, ...]
MakeBinary = Callable[[StoredBlob], Awaitable[str]]

# Base64 characters decoded at a time: a multiple of 4, so only the last slice can hold padding.
DECODE_SLICE_CHARS: Final = 4 * 16 * 1024


def _document_reference_sites(resource: dict[str, Any]) -> list[JsonPath]:
    contents = resource.get("content")
    if not isinstance(contents, list):
        return []
    return [
        ("content", index, "attachment")
        for index, content in enumerate(contents)
        if isinstance(content, dict) and isinstance(content.get("attachment"), dict)
    ]


def _media_sites(resource: dict[str, Any]) -> list[JsonPath]:
    return [("content",)] if isinstance(resource.get("content"), dict) else []


@dataclass(frozen=True)
class AttachmentRule:
    purpose: Purpose
    sites: Callable[[dict[str, Any]], list[JsonPath]]


ATTACHMENT_RULES: Final[dict[str, AttachmentRule]] = {
    "DocumentReference": AttachmentRule(purpose="document", sites=_document_reference_sites),
    "Media": AttachmentRule(purpose="image", sites=_media_sites),
}


@dataclass(frozen=True)
class InlineAttachment:
    path: JsonPath
    expression: str  # FHIRPath of the attachment, for OperationOutcome.issue.expression
    attachment: dict[str, Any]


def _expression(resource_type: str, path: JsonPath) -> str:
    text = resource_type
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


def _get(resource: dict[str, Any], path: JsonPath) -> Any:
    node: Any = resource
    for step in path:
        node = node[step]
    return node


def _replaced(node: Any, path: JsonPath, value: Any) -> Any:
    """A copy of ``node`` with ``value`` at ``path``; only the containers on the path are copied."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = list(node) if isinstance(node, list) else dict(node)
    copy[head] = _replaced(node[head], rest, value)
    return copy


def _inline_attachments(resource: dict[str, Any], rule: AttachmentRule) -> list[InlineAttachment]:
    resource_type = str(resource["resourceType"])
    found = []
    for path in rule.sites(resource):
        attachment = _get(resource, path)
        if "data" in attachment:
            found.append(InlineAttachment(path, _expression(resource_type, path), attachment))
    return found


async def _decoded(data: str, *, expression: str) -> AsyncIterator[bytes]:
    compact = "".join(data.split())  # base64Binary allows whitespace between groups
    try:
        for offset in range(0, len(compact), DECODE_SLICE_CHARS):
            yield base64.b64decode(compact[offset : offset + DECODE_SLICE_CHARS], validate=True)
    except binascii.Error:
        raise BadRequest("Attachment data is not valid base64.", (f"{expression}.data",)) from None


def _check_declared(attachment: dict[str, Any], stored: StoredBlob, *, expression: str) -> None:
    if "size" in attachment and attachment["size"] != stored.size:
        raise BadRequest("Attachment size does not match its data.", (f"{expression}.size",))
    if "hash" in attachment and attachment["hash"] != stored.sha1_base64:
        raise BadRequest("Attachment hash does not match its data.", (f"{expression}.hash",))


async def _store_one(
    item: InlineAttachment, *, blob_store: BlobStore, max_bytes: int, purpose: Purpose
) -> StoredBlob:
    data = item.attachment["data"]
    content_type = item.attachment.get("contentType")
    if not isinstance(data, str):
        raise BadRequest("Attachment data must be a base64 string.", (f"{item.expression}.data",))
    if not isinstance(content_type, str) or not content_type:
        raise BadRequest(
            "An attachment with data must have a contentType.", (f"{item.expression}.contentType",)
        )
    stored = await blob_store.put(
        chunks=_decoded(data, expression=item.expression),
        content_type=content_type,
        max_bytes=max_bytes,
        purpose=purpose,
    )
    try:
        _check_declared(item.attachment, stored, expression=item.expression)
    except BadRequest:
        await blob_store.delete(stored.key)
        raise
    return stored


async def _delete_quietly(blob_store: BlobStore, blobs: Sequence[StoredBlob]) -> None:
    with anyio.CancelScope(shield=True):
        for blob in blobs:
            await blob_store.delete(blob.key)


def _externalized(attachment: dict[str, Any], stored: StoredBlob, url: str) -> dict[str, Any]:
    result = {name: value for name, value in attachment.items() if name != "data"}
    # Keep what the client wrote (parameters included) unless it named the type differently
    # (an alias such as image/jpg, or octet-stream): then the canonical type is recorded.
    declared = str(attachment["contentType"]).split(";", 1)[0].strip().lower()
    if declared != stored.content_type:
        result["contentType"] = stored.content_type
    result.update(url=url, size=stored.size, hash=stored.sha1_base64)
    return result


async def externalize_attachments(
    resource: dict[str, Any], *, blob_store: BlobStore, max_bytes: int, make_binary: MakeBinary
) -> dict[str, Any]:
    """The resource with every inline attachment's bytes moved to the blob store (see module doc).

    Resources of other types, or without inline data, are returned as they are. Raises the blob
    store's validation errors (``UnsupportedMediaType``, ``BadRequest``, ``PayloadTooLarge``) with
    nothing left stored.
    """
    rule = ATTACHMENT_RULES.get(str(resource.get("resourceType")))
    if rule is None:
        return resource
    inline = _inline_attachments(resource, rule)
    stored: list[StoredBlob] = []
    try:
        for item in inline:
            stored.append(
                await _store_one(item, blob_store=blob_store, max_bytes=max_bytes, purpose=rule.purpose)
            )
    except BaseException:
        await _delete_quietly(blob_store, stored)
        raise
    result = resource
    for index, (item, blob) in enumerate(zip(inline, stored, strict=True)):
        try:
            url = await make_binary(blob)
        except BaseException:
            await _delete_quietly(blob_store, stored[index:])
            raise
        result = _replaced(result, item.path, _externalized(item.attachment, blob, url))
    return result
