"""JSON Patch (RFC 6902) over RFC 6901 JSON Pointers, applied to a copy of a resource."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir_server.errors import BadRequest, FhirError, Unprocessable

_APPEND = "-"


@dataclass(frozen=True)
class _Operation:
    op: str
    path: tuple[str, ...]
    raw_path: str
    value: Any  # None when the operation takes no value
    from_path: tuple[str, ...]


class _Failure(Exception):
    """A semantic failure inside one operation; the caller adds which operation it was."""


def apply_json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply an RFC 6902 patch; return a new document, leaving ``document`` untouched.

    All or nothing: the first failing operation raises and nothing is returned.
    BadRequest: the patch document is malformed (not a list, unknown op, missing member, bad pointer).
    Unprocessable: an operation does not fit this document (missing target, failed test, ...).
    """
    if not isinstance(operations, list):
        raise BadRequest("a JSON Patch document is a JSON array of operations")
    parsed = [_parse_operation(raw, position) for position, raw in enumerate(operations)]
    result: Any = copy.deepcopy(document)
    for position, operation in enumerate(parsed):
        try:
            result = _HANDLERS[operation.op](result, operation)
        except _Failure as failure:
            raise Unprocessable(
                f"JSON Patch operation {position} ({operation.op} {operation.raw_path}) failed: {failure}",
                _where(position),
            ) from None
    if not isinstance(result, dict):
        raise Unprocessable("the patched document is not a JSON object", ())
    return result


def _where(position: int) -> tuple[str, ...]:
    return (f"operation[{position}]",)


def _parse_operation(raw: Any, position: int) -> _Operation:
    def bad(reason: str) -> FhirError:
        return BadRequest(f"JSON Patch operation {position} is malformed: {reason}", _where(position))

    if not isinstance(raw, dict):
        raise bad("an operation is a JSON object")
    op = raw.get("op")
    if not isinstance(op, str) or op not in _HANDLERS:
        raise bad(f"'op' must be one of {', '.join(_HANDLERS)}")
    raw_path = raw.get("path")
    if not isinstance(raw_path, str):
        raise bad("'path' is missing or not a string")
    if op in _NEEDS_VALUE and "value" not in raw:
        raise bad(f"'{op}' needs a 'value'")
    raw_from = raw.get("from")
    if op in _NEEDS_FROM and not isinstance(raw_from, str):
        raise bad(f"'{op}' needs a 'from' pointer")
    try:
        path = parse_pointer(raw_path)
        from_path = parse_pointer(raw_from) if isinstance(raw_from, str) and op in _NEEDS_FROM else ()
    except ValueError as error:
        raise bad(str(error)) from None
    if op == "move" and len(from_path) < len(path) and path[: len(from_path)] == from_path:
        raise bad("a value cannot be moved into one of its own children")
    return _Operation(op, path, raw_path, copy.deepcopy(raw.get("value")), from_path)


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """RFC 6901: "" is the whole document; "/a~1b/~0c" is ("a/b", "~c")."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"the JSON pointer '{pointer}' does not start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if any(token[at + 1 : at + 2] not in ("0", "1") for at, char in enumerate(token) if char == "~"):
            raise ValueError(f"the JSON pointer '{pointer}' has a '~' not followed by 0 or 1")
    # ~1 first, then ~0, so that "~01" becomes "~1" and not "/"
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


def _array_index(array: list[Any], token: str, *, allow_end: bool) -> int:
    """The index a token names in an array; ``allow_end`` admits len(array) (and "-") for add."""
    if token == _APPEND and allow_end:
        return len(array)
    if not token.isdigit() or not token.isascii() or (len(token) > 1 and token.startswith("0")):
        raise _Failure(f"'{token}' is not an array index")
    index = int(token)
    if index > len(array) or (index == len(array) and not allow_end):
        raise _Failure(f"array index {index} is out of range (length {len(array)})")
    return index


def _resolve(document: Any, path: tuple[str, ...]) -> Any:
    """The value at a path; _Failure when any step is missing."""
    current = document
    for token in path:
        if isinstance(current, dict):
            if token not in current:
                raise _Failure(f"member '{token}' does not exist")
            current = current[token]
        elif isinstance(current, list):
            current = current[_array_index(current, token, allow_end=False)]
        else:
            raise _Failure(f"cannot step into a scalar with '{token}'")
    return current


def _parent(document: Any, path: tuple[str, ...]) -> Any:
    parent = _resolve(document, path[:-1])
    if not isinstance(parent, dict | list):
        raise _Failure("the parent of the target is not an object or array")
    return parent


def _add(document: Any, operation: _Operation) -> Any:
    return _insert(document, operation.path, operation.value)


def _insert(document: Any, path: tuple[str, ...], value: Any) -> Any:
    if not path:
        return value
    parent = _parent(document, path)
    if isinstance(parent, dict):
        parent[path[-1]] = value
    else:
        parent.insert(_array_index(parent, path[-1], allow_end=True), value)
    return document


def _remove(document: Any, operation: _Operation) -> Any:
    _take(document, operation.path)
    return document


def _take(document: Any, path: tuple[str, ...]) -> Any:
    """Remove and return the value at a path."""
    if not path:
        raise _Failure("the whole document cannot be removed")
    parent = _parent(document, path)
    if isinstance(parent, dict):
        if path[-1] not in parent:
            raise _Failure(f"member '{path[-1]}' does not exist")
        return parent.pop(path[-1])
    return parent.pop(_array_index(parent, path[-1], allow_end=False))


def _replace(document: Any, operation: _Operation) -> Any:
    if not operation.path:
        return operation.value
    _resolve(document, operation.path)  # the target must exist
    parent = _parent(document, operation.path)
    if isinstance(parent, dict):
        parent[operation.path[-1]] = operation.value
    else:
        parent[_array_index(parent, operation.path[-1], allow_end=False)] = operation.value
    return document


def _move(document: Any, operation: _Operation) -> Any:
    if operation.from_path == operation.path:
        _resolve(document, operation.path)
        return document
    return _insert(document, operation.path, _take(document, operation.from_path))


def _copy(document: Any, operation: _Operation) -> Any:
    return _insert(document, operation.path, copy.deepcopy(_resolve(document, operation.from_path)))


def _test(document: Any, operation: _Operation) -> Any:
    if not json_equal(_resolve(document, operation.path), operation.value):
        raise _Failure("the value differs from the expected value")
    return document


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality per RFC 6902 4.6: numbers by value, no bool/number mixing, objects unordered."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float | Decimal) and isinstance(right, int | float | Decimal):
        return Decimal(str(left)) == Decimal(str(right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return type(left) is type(right) and bool(left == right)


_HANDLERS: dict[str, Callable[[Any, _Operation], Any]] = {
    "add": _add,
    "remove": _remove,
    "replace": _replace,
    "move": _move,
    "copy": _copy,
    "test": _test,
}
_NEEDS_VALUE = frozenset({"add", "replace", "test"})
_NEEDS_FROM = frozenset({"move", "copy"})
