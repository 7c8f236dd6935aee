"""Content sniffing, allow-lists and the streaming text check."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, FhirError, UnsupportedMediaType
from fhir_server.store.sniff import (
    ALLOWED,
    BINARY_FORMATS,
    Purpose,
    TextContentGuard,
    check_content,
    looks_like_script,
    media_type_essence,
    sniff,
    text_guard_for,
)
from tests.fixtures.files.make_samples import SAMPLES, SAMPLES_DIR
from tests.store.blob_fixtures import sample

DETECTED = {
    "sample.pdf": "application/pdf",
    "sample.png": "image/png",
    "sample.jpg": "image/jpeg",
    "sample.tiff": "image/tiff",
    "sample.dcm": "application/dicom",
    "sample.gif": "image/gif",
    "sample.webp": "image/webp",
    "sample.txt": "text/plain",
    "sample.json": "application/json",
    "elf_renamed.pdf": "application/x-elf",
    "windows_program.jpg": "application/vnd.microsoft.portable-executable",
    "archive_renamed.pdf": "application/zip",
    "dicom_with_executable_preamble.dcm": "application/vnd.microsoft.portable-executable",
    "shell_script.txt": "text/x-shellscript",
    "piped_download.txt": "text/x-script",
    "page_with_script.txt": "text/html",
    "note_with_script.txt": "text/x-script",
    "powershell.txt": "text/x-script",
    "image_with_script.svg": "image/svg+xml",
    "latin1_note.txt": None,
}


def test_committed_samples_are_what_the_script_builds() -> None:
    assert set(DETECTED) == set(SAMPLES)
    for name, build in SAMPLES.items():
        assert (SAMPLES_DIR / name).read_bytes() == build(), name


@pytest.mark.parametrize(("name", "expected"), DETECTED.items())
def test_sniff_samples(name: str, expected: str | None) -> None:
    assert sniff(sample(name)) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"", None),
        (b"\x00\x01\x02\x03 binary", None),
        (b"II+\x00\x10\x00", "image/tiff"),  # BigTIFF
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"\xcf\xfa\xed\xfe\x07\x00", "application/x-mach-binary"),
        (b"\xca\xfe\xba\xbe\x00\x00", "application/x-mach-binary"),
        (b"\x00asm\x01\x00\x00\x00", "application/wasm"),
        (b"\xef\xbb\xbf#!/usr/bin/env python\n", "text/x-shellscript"),
        (b"{\\rtf1\\ansi hello}", "application/rtf"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "application/x-ole-storage"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"<?xml version='1.0'?><ClinicalDocument/>", "application/xml"),
        (b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (b"  <!DOCTYPE html><p>hi</p>", "text/html"),
        (b"[1, 2, 3]", "application/json"),
        (b"\xef\xbb\xbfPlain note with BOM", "text/plain"),
        (b"Temp\xc3", "text/plain"),  # a UTF-8 sequence cut at the end of the head
        (b"text with a NUL \x00 inside", None),
        (b"@ECHO OFF\r\ndel *.*\r\n", "text/x-script"),
        (b"click <a href='#' onclick = 'x()'>here</a>", "text/x-script"),
    ],
)
def test_sniff_heads(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Patient was prescribed a new script for pain relief.",
        "Blood pressure <140/90 on two visits; see attached PDF.",
        "Evaluation (follow-up) in 2 weeks; HTML report sent by email.",
        "The patient's shell-fish allergy is documented. Rm 12, bed 3.",
        "Re-eval (ortho) next week; lesion size < object of comparison.",
        "Onset = 3 days; x<y holds for the ratio.",
    ],
)
def test_ordinary_clinical_text_is_not_a_script(text: str) -> None:
    assert not looks_like_script(text)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("Text/Plain; charset=UTF-8", "text/plain"),
        ("image/jpg", "image/jpeg"),
        (" application/x-pdf ", "application/pdf"),
        ("application/json+fhir", "application/fhir+json"),
        ("image/tif", "image/tiff"),
    ],
)
def test_media_type_essence(declared: str, expected: str) -> None:
    assert media_type_essence(declared) == expected


def test_allow_lists() -> None:
    assert ALLOWED["document"] == {
        "application/pdf",
        "text/plain",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "application/dicom",
        "application/fhir+json",
    }
    assert ALLOWED["image"] == {
        "image/jpeg",
        "image/png",
        "image/tiff",
        "application/dicom",
        "image/gif",
        "image/webp",
    }
    assert ALLOWED["document"] | ALLOWED["image"] | {"application/json"} == ALLOWED[None]
    assert ALLOWED[None] >= BINARY_FORMATS


@pytest.mark.parametrize(
    ("name", "declared", "purpose", "expected"),
    [
        ("sample.pdf", "application/pdf", "document", "application/pdf"),
        ("sample.json", "text/plain", "document", "text/plain"),  # JSON is also plain text
        ("sample.dcm", "application/octet-stream", "image", "application/dicom"),
        ("sample.jpg", "IMAGE/JPEG", None, "image/jpeg"),
    ],
)
def test_check_content_accepts(name: str, declared: str, purpose: Purpose | None, expected: str) -> None:
    assert check_content(head=sample(name), declared=declared, purpose=purpose) == expected


@pytest.mark.parametrize(
    ("head", "declared", "purpose", "error", "message"),
    [
        (b"", "text/plain", None, BadRequest, "empty"),
        (sample("elf_renamed.pdf"), "application/pdf", "document", UnsupportedMediaType, "application/x-elf"),
        (sample("elf_renamed.pdf"), "application/octet-stream", None, UnsupportedMediaType, "x-elf"),
        (sample("sample.txt"), "application/octet-stream", None, UnsupportedMediaType, "octet-stream"),
        (sample("sample.pdf"), "application/octet-stream", "image", UnsupportedMediaType, "octet-stream"),
        (sample("sample.gif"), "image/gif", "document", UnsupportedMediaType, "not accepted for document"),
        (sample("sample.json"), "application/json", "document", UnsupportedMediaType, "application/json"),
        (sample("sample.txt"), "text/html", None, UnsupportedMediaType, "text/html"),
        (sample("sample.png"), "application/pdf", "document", BadRequest, "found image/png"),
        (sample("sample.txt"), "application/fhir+json", None, BadRequest, "found text/plain"),
        (b"\x00\x01\x02garbage", "image/png", "image", BadRequest, "unrecognised"),
        (sample("latin1_note.txt"), "text/plain", "document", BadRequest, "text/plain"),
    ],
)
def test_check_content_refuses(
    head: bytes, declared: str, purpose: Purpose | None, error: type[FhirError], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        check_content(head=head, declared=declared, purpose=purpose)
    assert type(raised.value) is error


def feed_all(guard: TextContentGuard, chunks: list[bytes]) -> None:
    for chunk in chunks:
        guard.feed(chunk)
    guard.finish()


def test_text_guard_accepts_utf8_split_anywhere() -> None:
    data = "Température 37,5 °C — contrôle dans 2 semaines.\n".encode() * 50
    guard = text_guard_for("text/plain")
    assert guard is not None
    feed_all(guard, [data[i : i + 3] for i in range(0, len(data), 3)])


@pytest.mark.parametrize("split", [1, 2, 5, 7, 11])
def test_text_guard_sees_a_marker_split_across_chunks(split: int) -> None:
    data = b"x" * 300 + b"\nline\n<script>alert(1)</script>"
    cut = 300 + 6 + split
    guard = text_guard_for("text/plain")
    assert guard is not None
    with pytest.raises(UnsupportedMediaType):
        feed_all(guard, [data[:cut], data[cut:]])


def test_text_guard_keeps_line_starts_across_chunks() -> None:
    guard = text_guard_for("text/plain")
    assert guard is not None
    with pytest.raises(UnsupportedMediaType):
        feed_all(guard, [b"a" * 1000 + b"\n", b"#!/bin/sh\n"])
    guard = text_guard_for("text/plain")
    assert guard is not None
    feed_all(guard, [b"a" * 1000, b"#! not a shebang mid-line\n"])


@pytest.mark.parametrize(
    ("chunks", "error"),
    [
        ([b"fine so far ", b"\xc3"], BadRequest),  # truncated at the very end
        ([b"fine", b"\xff"], BadRequest),
        ([b"fine", b"\x00"], BadRequest),
        ([b"fine", b"javascript:alert(1)"], UnsupportedMediaType),
    ],
)
def test_text_guard_refuses(chunks: list[bytes], error: type[FhirError]) -> None:
    guard = text_guard_for("text/plain")
    assert guard is not None
    with pytest.raises(error):
        feed_all(guard, chunks)


def test_json_is_checked_for_utf8_but_not_for_script_markers() -> None:
    guard = text_guard_for("application/fhir+json")
    assert guard is not None
    feed_all(guard, [b'{"text": {"div": "<div>eval(x) <object/></div>"}}'])
    guard = text_guard_for("application/json")
    assert guard is not None
    with pytest.raises(BadRequest):
        feed_all(guard, [b'{"a": "\xff"}'])


def test_binary_formats_have_no_text_guard() -> None:
    assert text_guard_for("application/pdf") is None
    assert text_guard_for("image/png") is None
