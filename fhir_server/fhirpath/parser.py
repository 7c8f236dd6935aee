"""Parsing FHIRPath text with the ANTLR grammar fhirpathpy ships, failing on any syntax error.

fhirpathpy's own ``parse`` installs an error listener that ignores errors (ANTLR then recovers and
returns a partial tree), so a broken expression would quietly mean something else; this one stops.
"""

from __future__ import annotations

import re
from typing import Any

from antlr4 import CommonTokenStream, InputStream  # type: ignore[import-untyped]
from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from fhir_server.fhirpath.errors import FhirPathError


class _RaisingListener(ErrorListener):  # type: ignore[misc]
    def syntaxError(self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any) -> None:
        raise FhirPathError("syntax", f"line {line}:{column} {msg}")


# Strings, quoted names and comments (left alone) or a partial DateTime ending in T ("@2015T",
# FHIRPath 2.0), which the grammar fhirpathpy ships does not know.
_TOKENS = re.compile(
    r"'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`|//[^\n]*|/\*.*?\*/|@(\d{4}(?:-\d{2}(?:-\d{2})?)?)T(?![\d:])",
    re.S,
)
PARTIAL_DATE_TIME = "@partial-dateTime:"


def _rewrite_partial_date_times(expression: str) -> str:
    """``@2015T`` becomes the external constant ``%`@partial-dateTime:2015` `` (read back as a
    DateTime literal by the compiler)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        return f"%`{PARTIAL_DATE_TIME}{match.group(1)}`"

    return _TOKENS.sub(replace, expression)


def parse(expression: str) -> Any:
    """The parse tree (an ANTLR ``ExpressionContext``) of a whole expression."""
    listener = _RaisingListener()
    lexer = FHIRPathLexer(InputStream(_rewrite_partial_date_times(expression)))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser: Any = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    try:
        tree = parser.entireExpression()
    except FhirPathError:
        raise
    except Exception as error:  # ANTLR's own exceptions (recognition errors) are syntax errors
        raise FhirPathError("syntax", str(error) or type(error).__name__) from error
    return tree.expression()
