"""Low-level FHIR search value syntax: escapes, OR lists, ``|`` and ``$`` separated parts, prefixes."""

from __future__ import annotations

from fhir_server.conformance.registry import PREFIXES


def split_unescaped(text: str, separator: str, *, limit: int = -1) -> list[str]:
    """Split on ``separator`` not preceded by a backslash; the escapes stay (see ``unescape``)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\":
            current.append(ch)
            escaped = True
            continue
        if ch == separator and limit != 0:
            parts.append("".join(current))
            current = []
            limit -= 1
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """``\\,`` ``\\$`` ``\\|`` ``\\\\`` -> the character itself."""
    if "\\" not in text:
        return text
    out: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    if escaped:
        out.append("\\")
    return "".join(out)


def or_values(text: str) -> list[str]:
    """The comma-separated alternatives of one parameter value (escapes other than ``\\,`` kept)."""
    return [part.replace("\\,", ",") for part in split_unescaped(text, ",")]


def split_prefix(text: str) -> tuple[str, str]:
    """``ge2020`` -> ("ge", "2020"); no prefix -> ("eq", text)."""
    head = text[:2]
    if head in PREFIXES and len(text) > 2:
        return head, text[2:]
    return "eq", text


def split_system(text: str) -> tuple[str | None, str]:
    """``system|code`` -> (system, code); ``|code`` -> ("", code); ``code`` -> (None, code)."""
    parts = split_unescaped(text, "|", limit=1)
    if len(parts) == 1:
        return None, unescape(parts[0])
    return unescape(parts[0]), unescape(parts[1])
