"""A ``multipart/form-data`` body read as it arrives (python-multipart's push parser).

``form_parts`` yields each part in order: a ``FormField`` once its (small, bounded) value is
complete, or a ``FilePart`` as soon as its headers are read, whose ``chunks`` stream the file's
bytes straight from the request. So a file goes to the blob store without being held in memory
or spooled to disk. Read a ``FilePart``'s chunks before asking for the next part (unread bytes
are skipped).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from fhir_server.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_FIELD_BYTES: Final = 16 * 1024
MAX_PARTS: Final = 32


@dataclass(frozen=True)
class FormField:
    name: str
    value: str


@dataclass
class FilePart:
    name: str
    filename: str  # as the client sent it: metadata only, never a path
    content_type: str | None
    chunks: AsyncIterator[bytes]


@dataclass
class _PartStart:
    headers: dict[str, bytes] = field(default_factory=dict)  # raw values: file names may be UTF-8


@dataclass(frozen=True)
class _PartData:
    data: bytes


class _PartEnd:
    pass


_Event = _PartStart | _PartData | _PartEnd


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type; 415 for any other type."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType("Send the upload as multipart/form-data.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart Content-Type has no boundary.")
    return boundary


class _EventCollector:
    """python-multipart's callbacks, turned into a queue of events."""

    def __init__(self) -> None:
        self.events: deque[_Event] = deque()
        self.finished = False
        self._part = _PartStart()
        self._header_name = b""
        self._header_value = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
            "on_end": self._finish,
        }

    def _begin(self) -> None:
        self._part = _PartStart()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").lower()
        self._part.headers[name] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        self.events.append(self._part)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self.events.append(_PartData(data[start:end]))

    def _end(self) -> None:
        self.events.append(_PartEnd())

    def _finish(self) -> None:
        self.finished = True


async def _events(body: AsyncIterable[bytes], boundary: bytes) -> AsyncIterator[_Event]:
    collector = _EventCollector()
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
            while collector.events:
                yield collector.events.popleft()
        parser.finalize()
    except MultipartParseError:
        raise BadRequest("The multipart body is malformed.") from None
    while collector.events:
        yield collector.events.popleft()
    if not collector.finished:
        raise BadRequest("The multipart body ended before its closing boundary.")


async def _file_chunks(events: AsyncIterator[_Event]) -> AsyncIterator[bytes]:
    async for event in events:
        if isinstance(event, _PartEnd):
            return
        if isinstance(event, _PartData):
            yield event.data


async def _field_value(events: AsyncIterator[_Event], name: str) -> str:
    value = bytearray()
    async for chunk in _file_chunks(events):
        value += chunk
        if len(value) > MAX_FIELD_BYTES:
            raise PayloadTooLarge(f"The form field '{name}' is longer than {MAX_FIELD_BYTES} bytes.")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"The form field '{name}' is not UTF-8 text.") from None


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def form_parts(
    body: AsyncIterable[bytes], *, content_type: str | None
) -> AsyncIterator[FormField | FilePart]:
    """The parts of a multipart/form-data body, in order (see module doc)."""
    events = _events(body, boundary_of(content_type))
    count = 0
    async for event in events:
        if not isinstance(event, _PartStart):
            continue
        count += 1
        if count > MAX_PARTS:
            raise BadRequest(f"The form has more than {MAX_PARTS} parts.")
        _, options = parse_options_header(event.headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", errors="replace")
        if b"filename" not in options:
            yield FormField(name, await _field_value(events, name))
            continue
        chunks = _file_chunks(events)
        yield FilePart(
            name=name,
            filename=options[b"filename"].decode("utf-8", errors="replace"),
            content_type=_text(event.headers.get("content-type")),
            chunks=chunks,
        )
        async for _ in chunks:  # whatever the consumer left unread
            pass
