"""Pure helpers of the blob store: keys, byte ranges, file names."""

from __future__ import annotations

import pytest

from fhir_server.errors import NotFound
from fhir_server.store.blobs import (
    RangeNotSatisfiable,
    check_blob_key,
    new_blob_key,
    parse_range_header,
    resolve_range,
    safe_filename,
)


def test_new_keys_are_checked_keys() -> None:
    keys = {new_blob_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(check_blob_key(key) == key for key in keys)


@pytest.mark.parametrize("key", ["", "../x", "0" * 33, "g" * 32, "0" * 31 + "\n"])
def test_malformed_keys_do_not_exist(key: str) -> None:
    with pytest.raises(NotFound):
        check_blob_key(key)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (0, 99)),
        (0, 0, (0, 0)),
        (10, None, (10, 99)),
        (None, 9, (0, 9)),
        (90, 500, (90, 99)),
    ],
)
def test_resolve_range(start: int | None, end: int | None, expected: tuple[int, int]) -> None:
    assert resolve_range(start=start, end=end, size=100) == expected


@pytest.mark.parametrize(("start", "end"), [(100, None), (100, 200), (50, 40), (-1, 5)])
def test_unsatisfiable_ranges(start: int, end: int | None) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        resolve_range(start=start, end=end, size=100)
    assert raised.value.status == 416
    assert raised.value.outcome()["issue"][0]["code"] == "invalid"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes = 5 - 7", (5, 7)),
        ("bytes=0-5,10-20", None),  # multiple ranges: whole content
        ("items=0-5", None),
        ("bytes=-", None),
        ("bytes=abc", None),
    ],
)
def test_parse_range_header(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range_header(header, size=100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=7-3"])
def test_parse_unsatisfiable_range_header(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range_header(header, size=100)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, None),
        ("", None),
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\scan 01.tiff", "scan 01.tiff"),
        ('bad"name;\r\n.pdf', "bad_name_.pdf"),
        ("Compte-rendu é.pdf", "Compte-rendu _.pdf"),
        ("...", None),
        (".hidden", "hidden"),
        ("a" * 300, "a" * 120),
    ],
)
def test_safe_filename(name: str | None, expected: str | None) -> None:
    assert safe_filename(name) == expected
