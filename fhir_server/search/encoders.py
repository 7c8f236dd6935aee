"""Turn the values a search expression selects into index entries, one encoder per parameter type.

Each encoder receives the raw JSON values (str, bool, number, dict) and writes the fields of one
parameter into the ``ix`` sub-document (layout in ``fhir_server.search.fields``). Types are told
apart by shape (a CodeableConcept has ``coding``/``text``, a Period ``start``/``end`` ...), which
also covers custom SearchParameters whose expressions we never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fhir_server.search import dates
from fhir_server.search import fields as f
from fhir_server.search.encoders_ordered import (
    EncodeContext,
    Index,
    amount_of,
    date_bounds,
    encode_date,
    encode_number,
    put_sort_keys,
    unwrap,
)
from fhir_server.search.fhirpath import reference_type
from fhir_server.search.text import MAX_PREFIX, MAX_VALUE, normalize, prefixes

_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")
_STRING_PARTS = (*_NAME_PARTS, *_ADDRESS_PARTS)


# ----- string ------------------------------------------------------------------------------------------


def _string_values(value: Any, out: list[str]) -> None:
    if type(value) is str:
        out.append(value)
    elif type(value) is dict:
        value = unwrap(value)
        if type(value) is str:
            out.append(value)
            return
        if type(value) is not dict:
            return
        for key in _STRING_PARTS:
            part = value.get(key)
            if type(part) is str:
                out.append(part)
            elif type(part) is list:
                out.extend(p for p in part if type(p) is str)


def encode_string(code: str, values: list[Any], ix: Index, ctx: EncodeContext) -> None:
    raw: list[str] = []
    for value in values:
        _string_values(value, raw)
    if not raw:
        return
    entries: set[str] = set()
    full: set[str] = set()
    sort_keys: list[str] = []
    for text in raw:
        norm = normalize(text)
        if not norm:
            continue
        entries.update(prefixes(norm))
        if len(norm) > MAX_PREFIX:
            full.add(norm[:MAX_VALUE])
        entries.add(f.TAG_EXACT + text[: 4 * MAX_VALUE])
        sort_keys.append(norm[:MAX_VALUE])
    if entries:
        ix[code] = list(entries)
        if full:
            ix[code + f.FULL] = list(full)
        put_sort_keys(ix, code, sort_keys)


# ----- token -------------------------------------------------------------------------------------------


def _coding_tokens(system: Any, code: Any, out: set[str]) -> None:
    if type(code) is not str:
        if type(system) is str and system:
            out.add(system + "|")
        return
    out.add(code)
    if type(system) is str and system:
        out.add(f"{system}|{code}")
        out.add(system + "|")
    else:
        out.add("|" + code)


@lru_cache(maxsize=16384)  # the same displays ("Body Weight" ...) recur across resources
def _text_tokens(text: str) -> tuple[str, ...]:
    norm = normalize(text)
    tokens = [f.TAG_TEXT + p for p in prefixes(norm)]
    if len(norm) > MAX_PREFIX:
        tokens.append(f.TAG_FULL_TEXT + norm[:MAX_VALUE])
    return tuple(tokens)


def _text_entries(text: Any, out: set[str]) -> None:
    if type(text) is str:
        out.update(_text_tokens(text))


def _token_dict(value: dict[str, Any], out: set[str], sort_keys: list[str]) -> None:
    if "coding" in value or ("text" in value and "value" not in value and "code" not in value):
        for coding in value.get("coding", ()):
            if type(coding) is dict:
                _coding_tokens(coding.get("system"), coding.get("code"), out)
                _text_entries(coding.get("display"), out)
                if type(coding.get("code")) is str:
                    sort_keys.append(coding["code"])
        _text_entries(value.get("text"), out)
        return
    if "value" in value and type(value.get("value")) is str:
        system = value.get("system")
        raw = value["value"]
        sort_keys.append(raw)
        if type(system) is str and system in _CONTACT_SYSTEMS and "assigner" not in value:
            out.add(raw)  # ContactPoint: the value, qualified by its system (phone|555 ...)
            out.add(f"{system}|{raw}")
            out.add(system + "|")
            return
        _coding_tokens(system, raw, out)  # Identifier
        id_type = value.get("type")
        if type(id_type) is dict:
            for coding in id_type.get("coding", ()):
                if type(coding) is dict and type(coding.get("code")) is str:
                    out.add(f"{f.TAG_OF_TYPE}{coding.get('system', '')}|{coding['code']}|{raw}")
            _text_entries(id_type.get("text"), out)
        return
    if "code" in value or "system" in value:  # Coding (or Quantity used as a token)
        _coding_tokens(value.get("system"), value.get("code"), out)
        _text_entries(value.get("display"), out)
        if type(value.get("code")) is str:
            sort_keys.append(value["code"])


def encode_token(code: str, values: list[Any], ix: Index, ctx: EncodeContext) -> None:
    out: set[str] = set()
    sort_keys: list[str] = []
    for value in values:
        value = unwrap(value)
        kind = type(value)
        if kind is str:
            out.add(value)
            sort_keys.append(value)
        elif kind is bool:
            text = "true" if value else "false"
            out.add(text)
            sort_keys.append(text)
        elif kind is dict:
            _token_dict(value, out, sort_keys)
        elif kind is int or kind is float or kind is Decimal:
            out.add(str(value))
    if out:
        full = [t[1:] for t in out if t[:1] == f.TAG_FULL_TEXT]
        ix[code] = [t for t in out if t[:1] != f.TAG_FULL_TEXT]
        if full:
            ix[code + f.FULL] = [f.TAG_TEXT + t for t in full]
        put_sort_keys(ix, code, sort_keys)


def _code_forms(system: Any, code: Any, out: list[str]) -> None:
    if type(code) is str:
        out.append(code)
        if type(system) is str and system:
            out.append(f"{system}|{code}")


def token_forms(value: Any) -> list[str]:
    """Canonical token forms of one value (``system|code`` and ``code``), for composite entries."""
    value = unwrap(value)
    if type(value) is str:
        return [value]
    if type(value) is bool:
        return ["true" if value else "false"]
    out: list[str] = []
    if type(value) is dict:
        codings = value.get("coding")
        if type(codings) is list:
            for coding in codings:
                if type(coding) is dict:
                    _code_forms(coding.get("system"), coding.get("code"), out)
        elif type(value.get("value")) is str:
            _code_forms(value.get("system"), value["value"], out)
        else:
            _code_forms(value.get("system"), value.get("code"), out)
    return out


# ----- reference ---------------------------------------------------------------------------------------


def normalize_reference(reference: str, base_url: str) -> str | None:
    """Stored form of a literal reference: relative "Type/id" when local, else as written."""
    if reference.startswith("#"):
        return None
    if base_url and reference.startswith(base_url + "/"):
        reference = reference[len(base_url) + 1 :]
    parts = reference.split("/")
    if len(parts) == 4 and parts[2] == "_history" and "://" not in reference:
        return f"{parts[0]}/{parts[1]}"
    return reference


def encode_reference(code: str, values: list[Any], ix: Index, ctx: EncodeContext) -> None:
    out: set[str] = set()
    for value in values:
        value = unwrap(value)
        if type(value) is str:  # canonical / uri
            out.add(value)
            if "|" in value:
                out.add(value.split("|", 1)[0])
            continue
        if type(value) is not dict:
            continue
        ref = value.get("reference")
        if type(ref) is str:
            stored = normalize_reference(ref, ctx.base_url)
            if stored:
                out.add(stored)
        identifier = value.get("identifier")
        if type(identifier) is dict and type(identifier.get("value")) is str:
            tokens: set[str] = set()
            _coding_tokens(identifier.get("system"), identifier["value"], tokens)
            out.update(f.TAG_IDENTIFIER + t for t in tokens)
    if out:
        ix[code] = list(out)
        plain = [r for r in out if r[:1] != f.TAG_IDENTIFIER]
        put_sort_keys(ix, code, plain)


def local_references(ix_values: list[str], target_type: str) -> list[str]:
    """The "Type/id" entries of a reference parameter that point to ``target_type``."""
    return [v for v in ix_values if v.startswith(target_type + "/") and reference_type(v) == target_type]


# ----- uri ---------------------------------------------------------------------------------------------


def uri_prefixes(uri: str) -> list[str]:
    """``http://a.org/x/y`` -> ``http://a.org``, ``http://a.org/x``, ``http://a.org/x/y``."""
    head, sep, rest = uri.partition("://")
    if not sep:
        return [uri]
    parts = rest.rstrip("/").split("/")
    return [f"{head}://{'/'.join(parts[: i + 1])}" for i in range(len(parts))]


def encode_uri(code: str, values: list[Any], ix: Index, ctx: EncodeContext) -> None:
    out: set[str] = set()
    for value in values:
        value = unwrap(value)
        if type(value) is not str:
            continue
        out.add(value)
        bare = value.split("|", 1)[0]
        out.add(bare)
        out.update(f.TAG_BELOW + p for p in uri_prefixes(bare))
    if out:
        ix[code] = list(out)
        put_sort_keys(ix, code, [v for v in out if v[:1] != f.TAG_BELOW])


# ----- composite component data ------------------------------------------------------------------------


def component_entry(param_type: str, values: list[Any], ctx: EncodeContext) -> dict[str, Any] | None:
    """What one component contributes to a composite's residual record (None: no value)."""
    if param_type in ("token", "reference", "uri"):
        tokens: list[str] = []
        for value in values:
            if param_type == "token":
                tokens.extend(token_forms(value))
            elif type(value) is dict and type(value.get("reference")) is str:
                ref = normalize_reference(value["reference"], ctx.base_url)
                if ref:
                    tokens.append(ref)
            elif type(value) is str:
                tokens.append(value)
        return {"e": tokens} if tokens else None
    if param_type == "string":
        raw: list[str] = []
        for value in values:
            _string_values(value, raw)
        entries = [p for text in raw for p in prefixes(normalize(text))]
        return {"e": entries} if entries else None
    if param_type == "date":
        ranges = [b for b in (date_bounds(v) for v in values) if b is not None]
        if not ranges:
            return None
        units = [u for low, high in ranges for u in dates.units(low, high)]
        return {"e": units, "l": min(r[0] for r in ranges), "h": max(r[1] for r in ranges)}
    if param_type in ("number", "quantity"):
        amounts = [a for a in (amount_of(v) for v in values) if a is not None]
        if not amounts:
            return None
        first = amounts[0]
        return {"e": first.tokens, "l": first.low, "h": first.high, "u": first.units}
    return None


Encoder = Callable[[str, list[Any], Index, EncodeContext], None]

ENCODERS: dict[str, Encoder] = {
    "string": encode_string,
    "token": encode_token,
    "reference": encode_reference,
    "uri": encode_uri,
    "date": encode_date,
    "number": encode_number,
    "quantity": encode_number,
}
