"""The streaming multipart/form-data reader, on bodies cut at every possible place."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fhir_server.documents.multipart import MAX_FIELD_BYTES, FilePart, FormField, form_parts
from fhir_server.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

BOUNDARY = "XyZ123"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def form(*parts: tuple[str, bytes, str | None, str | None]) -> bytes:
    """(name, value, filename, content type) parts as one multipart body."""
    body = b""
    for name, value, filename, content_type in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + value + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def collect(body: bytes, size: int) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    async for part in form_parts(pieces(body, size), content_type=CONTENT_TYPE):
        if isinstance(part, FilePart):
            data = b"".join([chunk async for chunk in part.chunks])
            found.append((part.name, (part.filename, part.content_type, data)))
        else:
            assert isinstance(part, FormField)
            found.append((part.name, part.value))
    return found


FILE = bytes(range(256)) * 40 + b"\r\n--XyZ12 not the boundary\r\n"


@pytest.mark.parametrize("size", [1, 7, 64, 1000, 100_000])
async def test_parts_arrive_in_order_whatever_the_chunking(size: int) -> None:
    body = form(
        ("patient", b"Patient/1", None, None),
        ("file", FILE, "r\u00e9sum\u00e9.pdf", "application/pdf"),  # UTF-8 in the header, as browsers send
        ("description", "caf\u00e9".encode(), None, None),
    )
    assert await collect(body, size) == [
        ("patient", "Patient/1"),
        ("file", ("r\u00e9sum\u00e9.pdf", "application/pdf", FILE)),
        ("description", "caf\u00e9"),
    ]


async def test_unread_file_bytes_are_skipped() -> None:
    body = form(("file", FILE, "a.bin", None), ("after", b"yes", None, None))
    names = []
    async for part in form_parts(pieces(body, 100), content_type=CONTENT_TYPE):
        names.append(part.name)
        if isinstance(part, FilePart):
            assert part.content_type is None
    assert names == ["file", "after"]


async def test_limits_and_malformed_bodies() -> None:
    with pytest.raises(PayloadTooLarge):
        await collect(form(("note", b"x" * (MAX_FIELD_BYTES + 1), None, None)), 4096)
    with pytest.raises(BadRequest):
        await collect(form(("note", b"abc", None, None))[:-20], 10)  # no closing boundary
    with pytest.raises(BadRequest):
        await collect(form(("note", b"\xff\xfe", None, None)), 10)  # not UTF-8
    with pytest.raises(BadRequest):
        await collect(form(*[(f"f{n}", b"1", None, None) for n in range(40)]), 1000)
    with pytest.raises(UnsupportedMediaType):
        async for _ in form_parts(pieces(b"x", 1), content_type="application/json"):
            pass
    with pytest.raises(BadRequest):
        async for _ in form_parts(pieces(b"x", 1), content_type="multipart/form-data"):
            pass
