"""Content sniffing and the per-purpose allow-lists for stored bytes.

What a client declares (``Content-Type``, ``Attachment.contentType``) is checked against what the
bytes are, found from their magic numbers with our own small table (no libmagic). Rules:

* Executables, scripts, markup that can carry script, and archives are refused with
  ``UnsupportedMediaType`` (415), whatever was declared.
* A declared type outside the purpose's allow-list is refused with ``UnsupportedMediaType`` (415).
* Bytes that are not what was declared (a PNG declared as ``application/pdf``, non-UTF-8
  ``text/plain``) are refused with ``BadRequest`` (400).
* ``application/octet-stream`` takes the sniffed type when that is an allowed binary format.

Only the head decides binary formats. Text types are checked over the whole stream by a
``TextContentGuard`` (valid UTF-8, no NUL, and for ``text/plain`` no script markers), which the
blob ingest feeds chunk by chunk.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

from fhir_server.errors import BadRequest, UnsupportedMediaType

Purpose = Literal["document", "image"]

# Enough for every signature below (DICOM's is at 128) and for a first look at text.
SNIFF_BYTES: Final = 8192

PDF: Final = "application/pdf"
PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
TIFF: Final = "image/tiff"
GIF: Final = "image/gif"
WEBP: Final = "image/webp"
DICOM: Final = "application/dicom"
TEXT: Final = "text/plain"
JSON: Final = "application/json"
FHIR_JSON: Final = "application/fhir+json"
OCTET_STREAM: Final = "application/octet-stream"

# Detected kinds that are never stored.
ELF: Final = "application/x-elf"
PORTABLE_EXECUTABLE: Final = "application/vnd.microsoft.portable-executable"
MACH_O: Final = "application/x-mach-binary"
WASM: Final = "application/wasm"
SHELL_SCRIPT: Final = "text/x-shellscript"
SCRIPT: Final = "text/x-script"
HTML: Final = "text/html"
SVG: Final = "image/svg+xml"
ZIP: Final = "application/zip"
GZIP: Final = "application/gzip"
BZIP2: Final = "application/x-bzip2"
XZ: Final = "application/x-xz"
ZSTD: Final = "application/zstd"
SEVEN_ZIP: Final = "application/x-7z-compressed"
RAR: Final = "application/vnd.rar"
OLE: Final = "application/x-ole-storage"  # legacy Office/MSI container, macro carrier
RTF: Final = "application/rtf"
WINDOWS_SHORTCUT: Final = "application/x-ms-shortcut"
# Not dangerous, just not in any allow-list.
XML: Final = "application/xml"

REFUSED_KINDS: Final = frozenset(
    {
        ELF,
        PORTABLE_EXECUTABLE,
        MACH_O,
        WASM,
        SHELL_SCRIPT,
        SCRIPT,
        HTML,
        SVG,
        ZIP,
        GZIP,
        BZIP2,
        XZ,
        ZSTD,
        SEVEN_ZIP,
        RAR,
        OLE,
        RTF,
        WINDOWS_SHORTCUT,
    }
)


@dataclass(frozen=True)
class Magic:
    """A signature: every (offset, bytes) part must match."""

    media_type: str
    parts: tuple[tuple[int, bytes], ...]

    def matches(self, head: bytes) -> bool:
        return all(head[offset : offset + len(sig)] == sig for offset, sig in self.parts)


def _at0(media_type: str, *signatures: bytes) -> tuple[Magic, ...]:
    return tuple(Magic(media_type, ((0, sig),)) for sig in signatures)


# Refused signatures come first: a DICOM preamble (128 free bytes) can hold an executable header,
# and such a polyglot must be refused, not taken for DICOM.
MAGIC_TABLE: Final[tuple[Magic, ...]] = (
    *_at0(ELF, b"\x7fELF"),
    *_at0(PORTABLE_EXECUTABLE, b"MZ"),
    # 0xCAFEBABE is also a Java class file: refused either way.
    *_at0(MACH_O, b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"),
    *_at0(MACH_O, b"\xca\xfe\xba\xbe"),
    *_at0(WASM, b"\x00asm"),
    *_at0(SHELL_SCRIPT, b"#!", b"\xef\xbb\xbf#!"),
    *_at0(ZIP, b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"),
    *_at0(GZIP, b"\x1f\x8b"),
    *_at0(BZIP2, b"BZh"),
    *_at0(XZ, b"\xfd7zXZ\x00"),
    *_at0(ZSTD, b"\x28\xb5\x2f\xfd"),
    *_at0(SEVEN_ZIP, b"7z\xbc\xaf\x27\x1c"),
    *_at0(RAR, b"Rar!\x1a\x07"),
    *_at0(OLE, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    *_at0(RTF, b"{\\rtf"),
    *_at0(WINDOWS_SHORTCUT, b"L\x00\x00\x00\x01\x14\x02\x00"),
    *_at0(PDF, b"%PDF-"),
    *_at0(PNG, b"\x89PNG\r\n\x1a\n"),
    *_at0(JPEG, b"\xff\xd8\xff"),
    *_at0(TIFF, b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),  # classic and BigTIFF
    *_at0(GIF, b"GIF87a", b"GIF89a"),
    Magic(WEBP, ((0, b"RIFF"), (8, b"WEBP"))),
    Magic(DICOM, ((128, b"DICM"),)),
)

# Allowed binary formats: recognised by magic alone.
BINARY_FORMATS: Final = frozenset({PDF, PNG, JPEG, TIFF, GIF, WEBP, DICOM})

ALLOWED: Final[dict[Purpose | None, frozenset[str]]] = {
    "document": frozenset({PDF, TEXT, JPEG, PNG, TIFF, DICOM, FHIR_JSON}),
    "image": frozenset({JPEG, PNG, TIFF, DICOM, GIF, WEBP}),
    # A generic Binary: anything a document or an image may be, plus JSON.
    None: frozenset({PDF, TEXT, JPEG, PNG, TIFF, DICOM, GIF, WEBP, JSON, FHIR_JSON}),
}

# Declared type -> what the bytes may be sniffed as.
COMPATIBLE: Final[dict[str, frozenset[str]]] = {
    **{media_type: frozenset({media_type}) for media_type in BINARY_FORMATS},
    TEXT: frozenset({TEXT, JSON}),
    JSON: frozenset({JSON}),
    FHIR_JSON: frozenset({JSON}),
}

ALIASES: Final[dict[str, str]] = {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "application/x-pdf": PDF,
    "image/tif": TIFF,
    "image/x-tiff": TIFF,
    "application/x-dicom": DICOM,
    "text/json": JSON,
    "application/json+fhir": FHIR_JSON,
}

# Text types checked over the whole stream; the flag says whether script markers are looked for.
# JSON is not scanned: it is data, served as JSON, and FHIR narratives legitimately hold markup.
TEXT_TYPES: Final[dict[str, bool]] = {TEXT: True, JSON: False, FHIR_JSON: False}

# Markers of active content in text. Bounded repetitions keep a match shorter than the overlap
# a streaming scan keeps between chunks.
_SCRIPT_MARKERS: Final = (
    # A tag name follows "<" directly, so "size < object" in prose is not a tag.
    r"<script\b",
    r"<iframe\b",
    r"<object\b",
    r"<embed\b",
    r"<svg\b",
    r"<html\b",
    r"<!doctype\s+html",
    r"<[a-z][a-z0-9]{0,20}\s[^>\n]{0,200}\bon[a-z]{2,20}\s*=",  # inline event handler
    r"<\?php",
    r"<%[@=]",
    r"(?:java|vb)script\s*:",
    r"^\s*#!\s*/",  # shebang on any line
    r"^\s*@echo\s+off",
    r"/bin/(?:ba|z|da|k)?sh\b",
    r"\b(?:curl|wget)\b[^\n]{0,200}\|\s*(?:ba|z|da)?sh\b",
    r"\brm\s+-rf\b",
    r"\bchmod\s+\+x\b",
    r"/dev/tcp/",
    r"\binvoke-(?:expression|webrequest)\b",
    r"\biex\s*\(",
    r"\bnew-object\s+(?:system\.)?net\.webclient\b",
    r"\bdownloadstring\s*\(",
    r"-encodedcommand\b",
    r"\bset-executionpolicy\b",
    r"\bwscript\.",
    r"\bcreateobject\s*\(",
    r"\bdocument\.(?:write|cookie)\b",
    r"\bwindow\.location\b",
    r"\beval\(",  # no space allowed: "re-eval (ortho)" is a clinical abbreviation
    r"\bstring\.fromcharcode\b",
    r"\bchild_process\b",
    r"\b__import__\s*\(",
    r"\bos\.system\s*\(",
    r"\bsubprocess\.",
)
SCRIPT_SCAN_OVERLAP: Final = 256


@cache
def _script_pattern() -> re.Pattern[str]:
    return re.compile("|".join(_SCRIPT_MARKERS), re.IGNORECASE | re.MULTILINE)


def looks_like_script(text: str) -> bool:
    """Whether ``text`` carries a marker of a script or of markup that can run one."""
    return _script_pattern().search(text) is not None


def media_type_essence(value: str) -> str:
    """``Text/Plain; charset=UTF-8`` -> ``text/plain``, with common aliases mapped."""
    essence = value.split(";", 1)[0].strip().lower()
    return ALIASES.get(essence, essence)


def _decode_head(head: bytes) -> str | None:
    """The head as text if it is UTF-8 (a sequence cut at the end is fine) without NUL."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head.removeprefix(codecs.BOM_UTF8))
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def _sniff_text(head: bytes) -> str | None:
    text = _decode_head(head)
    if text is None:
        return None
    start = text.lstrip()[:256].lower()
    if start.startswith(("<!doctype html", "<html")):
        return HTML
    if "<svg" in start:
        return SVG
    if start.startswith("<?xml"):
        return XML
    if start.startswith(("{", "[")):
        return JSON
    return SCRIPT if looks_like_script(text) else TEXT


def sniff(head: bytes) -> str | None:
    """The media type the first bytes show, or None if unrecognised (or empty)."""
    for magic in MAGIC_TABLE:
        if magic.matches(head):
            return magic.media_type
    return _sniff_text(head) if head else None


def check_content(*, head: bytes, declared: str, purpose: Purpose | None) -> str:
    """Validate the first bytes against the declared type and the purpose's allow-list.

    Returns the canonical media type to store. Raises ``UnsupportedMediaType`` for refused kinds
    and types outside the allow-list, ``BadRequest`` when the bytes are not what was declared.
    """
    if not head:
        raise BadRequest("The content is empty.")
    detected = sniff(head)
    if detected in REFUSED_KINDS:
        raise UnsupportedMediaType(f"Content recognised as {detected} is not accepted.")
    allowed = ALLOWED[purpose]
    canonical = media_type_essence(declared)
    if canonical == OCTET_STREAM:
        if detected not in BINARY_FORMATS or detected not in allowed:
            raise UnsupportedMediaType("Declare the content type: application/octet-stream is not accepted.")
        return detected
    if canonical not in allowed:
        raise UnsupportedMediaType(f"Content type {canonical} is not accepted for {purpose or 'Binary'}.")
    if detected not in COMPATIBLE[canonical]:
        found = detected or "unrecognised binary data"
        raise BadRequest(f"The content does not match the declared type {canonical} (found {found}).")
    return canonical


class TextContentGuard:
    """Checks a text stream chunk by chunk: valid UTF-8, no NUL, optionally no script markers."""

    def __init__(self, *, media_type: str, scan_scripts: bool) -> None:
        self._media_type = media_type
        self._scan_scripts = scan_scripts
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        # Carried from the previous chunk, so markers split across chunks are seen; the prefix
        # tells whether the carried text starts a line (for the "^" markers).
        self._carry = "\n"

    def feed(self, chunk: bytes) -> None:
        self._check(self._decode(chunk, final=False))

    def finish(self) -> None:
        self._check(self._decode(b"", final=True))

    def _decode(self, chunk: bytes, *, final: bool) -> str:
        try:
            return self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            raise BadRequest(f"{self._media_type} content must be valid UTF-8.") from None

    def _check(self, text: str) -> None:
        if "\x00" in text:
            raise BadRequest(f"{self._media_type} content must not contain NUL characters.")
        if not self._scan_scripts or not text:
            return
        window = self._carry + text
        if looks_like_script(window):
            raise UnsupportedMediaType("Text content that looks like a script is not accepted.")
        tail = window[-SCRIPT_SCAN_OVERLAP:]
        before = window[-SCRIPT_SCAN_OVERLAP - 1] if len(window) > SCRIPT_SCAN_OVERLAP else "\n"
        self._carry = ("\n" if before == "\n" else "x") + tail


def text_guard_for(media_type: str) -> TextContentGuard | None:
    """The stream check for a canonical media type, or None for binary formats."""
    scan = TEXT_TYPES.get(media_type)
    return None if scan is None else TextContentGuard(media_type=media_type, scan_scripts=scan)
