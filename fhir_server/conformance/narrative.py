"""Narrative XHTML (http://hl7.org/fhir/R4B/narrative.html): well-formed XML, a ``div`` in the XHTML
namespace at the root, only the spec's elements and attributes, no active content.

Refused: scripts, forms, frames, objects, ``head``/``body``/``base``/``link``, event attributes
(``on*``), ``javascript:`` links, any DOCTYPE or entity declaration (external entities), and HTML
named entities such as ``&nbsp;`` (the content is XML without a DTD: only ``&lt; &gt; &amp; &quot;
&apos;`` and numeric character references exist). Parsed with expat, which fetches nothing.
"""

from __future__ import annotations

from typing import Final
from xml.parsers import expat

XHTML_NS: Final = "http://www.w3.org/1999/xhtml"
_TEXT_ELEMENTS = ("a", "abbr", "acronym", "b", "big", "br", "cite", "code", "dfn", "em", "i", "q", "samp")
_MORE_TEXT = ("small", "span", "strong", "sub", "sup", "tt", "var")
_BLOCKS = ("blockquote", "div", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img", "p", "pre")
_LISTS = ("dd", "dl", "dt", "li", "ol", "ul")
_TABLES = ("caption", "col", "colgroup", "table", "tbody", "td", "tfoot", "th", "thead", "tr")
ELEMENTS: Final = frozenset((*_TEXT_ELEMENTS, *_MORE_TEXT, *_BLOCKS, *_LISTS, *_TABLES))
# Attributes the narrative may carry: the common ones and each element's own (XHTML 1.0 strict).
COMMON_ATTRIBUTES: Final = frozenset({"id", "class", "style", "title", "lang", "dir", "xml:lang"})
ELEMENT_ATTRIBUTES: Final[dict[str, frozenset[str]]] = {
    "a": frozenset({"href", "name", "rel", "rev", "hreflang", "type", "charset", "shape", "coords",
                    "accesskey", "tabindex"}),
    "img": frozenset({"src", "alt", "height", "width", "longdesc", "usemap", "ismap", "border"}),
    "table": frozenset({"border", "cellpadding", "cellspacing", "summary", "width", "frame", "rules",
                        "align", "bgcolor"}),
    "td": frozenset({"colspan", "rowspan", "align", "valign", "abbr", "axis", "headers", "scope",
                     "char", "charoff", "width", "height", "nowrap", "bgcolor"}),
    "col": frozenset({"span", "width", "align", "valign", "char", "charoff"}),
    "ol": frozenset({"start", "type", "compact"}),
    "ul": frozenset({"type", "compact"}),
    "li": frozenset({"value", "type"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "pre": frozenset({"width"}),
    "br": frozenset({"clear"}),
    "hr": frozenset({"align", "noshade", "size", "width"}),
}  # fmt: skip
for _same, _as in (("th", "td"), ("colgroup", "col"), ("tbody", "col"), ("thead", "col"),
                   ("tfoot", "col"), ("tr", "col")):  # fmt: skip
    ELEMENT_ATTRIBUTES[_same] = ELEMENT_ATTRIBUTES[_as]
ALIGNABLE: Final = frozenset({"div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "caption"})
ACTIVE_SCHEMES: Final = ("javascript:", "vbscript:", "data:text/html")


class _Check:
    """Collects the first problem found while expat reads the fragment."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self.depth = 0
        self.text = False

    def fail(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def start(self, name: str, attributes: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(" ")
        if self.depth == 0 and (local != "div" or namespace != XHTML_NS):
            self.fail(f"The narrative must be a div in the XHTML namespace ({XHTML_NS})")
        self.depth += 1
        if namespace != XHTML_NS or local not in ELEMENTS:
            self.fail(f"The element <{local}> is not allowed in a narrative")
            return
        allowed = ELEMENT_ATTRIBUTES.get(local, frozenset())
        for attribute, value in attributes.items():
            attribute_ns, _, attribute_name = attribute.rpartition(" ")
            if attribute_ns == "http://www.w3.org/XML/1998/namespace":
                attribute_name = f"xml:{attribute_name}"
            elif attribute_ns:
                self.fail(f"The attribute {attribute_name} (namespace {attribute_ns}) is not allowed")
                continue
            lowered = attribute_name.lower()
            if lowered.startswith("on"):
                self.fail(f"Event attributes ({attribute_name}) are not allowed in a narrative")
            elif value.strip().lower().replace(" ", "").startswith(ACTIVE_SCHEMES):
                self.fail(f"Active content in the {attribute_name} attribute of <{local}> is not allowed")
            elif (
                attribute_name not in COMMON_ATTRIBUTES
                and attribute_name not in allowed
                and not (attribute_name == "align" and local in ALIGNABLE)
            ):
                self.fail(f"The attribute {attribute_name} is not allowed on <{local}>")
        if local == "img":
            self.text = True

    def end(self, name: str) -> None:
        self.depth -= 1

    def data(self, data: str) -> None:
        if data.strip():
            self.text = True


def narrative_problem(xhtml: str) -> str | None:
    """None when the XHTML is a valid FHIR narrative, else the first problem (without its text)."""
    check = _Check()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = check.start
    parser.EndElementHandler = check.end
    parser.CharacterDataHandler = check.data

    def refuse_doctype(*_: object) -> None:
        check.fail("A DOCTYPE is not allowed in a narrative")

    def refuse_entity(*_: object) -> None:
        check.fail("Entity declarations are not allowed in a narrative")

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = lambda *_: 0
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(xhtml, True)
    except expat.ExpatError as error:
        reason = expat.errors.messages.get(error.code, "not well-formed")
        if error.code == expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]:
            return "Undefined entity in the narrative: use the character itself or a numeric reference"
        return check.problem or f"The narrative is not well-formed XHTML ({reason})"
    if check.problem is None and not check.text:
        check.fail("The narrative must have some non-whitespace content (txt-2)")
    return check.problem
