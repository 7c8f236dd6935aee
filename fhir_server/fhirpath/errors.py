"""The one error FHIRPath evaluation raises, with the specification's kinds of failure."""

from __future__ import annotations


class FhirPathError(Exception):
    """An expression that cannot be parsed (``syntax``), is wrong for the model (``semantic``) or
    fails while running (``execution``: a collection where one item is needed, a bad operand ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
