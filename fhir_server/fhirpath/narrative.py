"""``htmlChecks()``: the narrative rules txt-1 and txt-2 on an XHTML ``div``.

Only the basic HTML formatting elements FHIR allows, no scripts, event handler attributes or
``javascript:`` links, no entity declarations, and some non-whitespace content (or an image).
"""

from __future__ import annotations

from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from fhir_server.fhirpath.nodes import system_value

_ALLOWED_TAGS = (
    "a abbr acronym b big blockquote br caption cite code col colgroup dd dfn div dl dt em h1 h2 h3 h4 h5 h6 "
    "hr i img li ol p pre q samp small span strong sub sup table tbody td tfoot th thead tr tt ul var"
)
NARRATIVE_ELEMENTS = frozenset(_ALLOWED_TAGS.split(" "))


class _NarrativeChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ok = True
        self.has_text = False
        self.depth = 0
        self.root: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.root is None:
            self.root = tag
        if tag not in NARRATIVE_ELEMENTS:
            self.ok = False
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.ok = False
        if tag == "img":
            self.has_text = True

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.has_text = True

    def handle_decl(self, decl: str) -> None:
        self.ok = False  # <!DOCTYPE ...> / <!ENTITY ...>: external entities have no place here

    def unknown_decl(self, data: str) -> None:
        self.ok = False

    def handle_pi(self, data: str) -> None:
        self.ok = False


def html_checks(inputs: list[Any]) -> bool:
    """True when the single input is narrative XHTML that passes txt-1 and txt-2."""
    if len(inputs) != 1:
        return False
    text = system_value(inputs[0])
    if not isinstance(text, str):
        return False
    return _checked(text)


@lru_cache(maxsize=256)  # txt-1 and txt-2 both ask about the same narrative
def _checked(text: str) -> bool:
    checker = _NarrativeChecker()
    checker.feed(text)
    checker.close()
    return checker.ok and checker.has_text and checker.root == "div"
