"""A parser for the FHIRPath subset that FHIRPath Patch paths use.

Supported: ``Type.elem.elem``, ``[n]``, ``where(<criteria>)``, ``first()``, ``last()``, ``single()``,
``ofType(T)``, ``extension('url')``; in criteria also ``=``, ``!=``, ``and``, ``or``, ``exists()``,
``empty()``, ``not()``, ``count()``, ``$this``, string/number/boolean/@date literals and parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

LiteralValue = str | int | Decimal | bool


@dataclass(frozen=True)
class Member:
    name: str


@dataclass(frozen=True)
class Indexer:
    index: int


@dataclass(frozen=True)
class Function:
    """A function call step; ``argument`` is its single parsed argument, if any."""

    name: str
    argument: Expression | str | None = None


@dataclass(frozen=True)
class This:
    pass


Step = Member | Indexer | Function | This


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...]

    def text(self) -> str:
        return ".".join(_step_text(step) for step in self.steps).replace(".[", "[")


@dataclass(frozen=True)
class Literal:
    value: LiteralValue


@dataclass(frozen=True)
class Comparison:
    operator: str  # "=" | "!="
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Logical:
    operator: str  # "and" | "or"
    left: Expression
    right: Expression


Expression = Path | Literal | Comparison | Logical

# functions that take no argument, one criteria expression, one string, or one type name
NO_ARGUMENT = frozenset({"first", "last", "single", "exists", "empty", "not", "count"})
CRITERIA_ARGUMENT = frozenset({"where"})
STRING_ARGUMENT = frozenset({"extension"})
TYPE_ARGUMENT = frozenset({"ofType"})


class PathSyntaxError(ValueError):
    """The text is not a FHIRPath expression this parser understands."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<date>@[0-9T:\-+.Z]+)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<identifier>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`|\$this)
      | (?P<symbol>!=|[.\[\]()=,])
    )""",
    re.VERBOSE | re.ASCII,
)
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t", "f": "\f"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise PathSyntaxError(f"unexpected character at offset {position} in '{text}'")
        tokens.append(_Token(match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def _unquote(quoted: str) -> str:
    body = quoted[1:-1]
    return re.sub(r"\\u([0-9a-fA-F]{4})|\\(.)", _unescape, body)


def _unescape(match: re.Match[str]) -> str:
    if match.group(1):
        return chr(int(match.group(1), 16))
    escaped = match.group(2)
    if escaped not in _ESCAPES:
        raise PathSyntaxError(f"unknown escape '\\{escaped}' in a string literal")
    return _ESCAPES[escaped]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> _Token:
        token = self.peek()
        if token is None or (expected is not None and token.text != expected):
            found = "the end" if token is None else f"'{token.text}'"
            wanted = f"'{expected}'" if expected else "more"
            raise PathSyntaxError(f"expected {wanted} but found {found} in '{self.text}'")
        self.position += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text and token.kind in ("symbol", "identifier")

    def expression(self) -> Expression:
        left = self.conjunction()
        while self.at("or"):
            self.take()
            left = Logical("or", left, self.conjunction())
        return left

    def conjunction(self) -> Expression:
        left = self.comparison()
        while self.at("and"):
            self.take()
            left = Logical("and", left, self.comparison())
        return left

    def comparison(self) -> Expression:
        left = self.term()
        if self.at("=") or self.at("!="):
            operator = self.take().text
            return Comparison(operator, left, self.term())
        return left

    def term(self) -> Expression:
        token = self.peek()
        if token is None:
            raise PathSyntaxError(f"'{self.text}' ends too early")
        if token.kind == "string":
            self.take()
            return Literal(_unquote(token.text))
        if token.kind == "date":
            self.take()
            return Literal(token.text[1:])
        if token.kind == "number":
            self.take()
            return Literal(Decimal(token.text) if "." in token.text else int(token.text))
        if token.text in ("true", "false"):
            self.take()
            return Literal(token.text == "true")
        if token.text == "(":
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        return self.path()

    def path(self) -> Path:
        steps: list[Step] = [self.step()]
        while True:
            if self.at("."):
                self.take()
                steps.append(self.step())
            elif self.at("["):
                self.take()
                number = self.take()
                if number.kind != "number" or not (number.text.isascii() and number.text.isdigit()):
                    raise PathSyntaxError(f"an indexer needs a whole number in '{self.text}'")
                self.take("]")
                steps.append(Indexer(int(number.text)))
            else:
                return Path(tuple(steps))

    def step(self) -> Step:
        token = self.take()
        if token.kind != "identifier":
            raise PathSyntaxError(f"expected a name but found '{token.text}' in '{self.text}'")
        if token.text == "$this":
            return This()
        name = token.text.strip("`")
        if not self.at("("):
            return Member(name)
        self.take("(")
        argument: Expression | str | None = None
        if name in CRITERIA_ARGUMENT:
            argument = self.expression()
        elif name in STRING_ARGUMENT:
            literal = self.take()
            if literal.kind != "string":
                raise PathSyntaxError(f"{name}() needs a string in '{self.text}'")
            argument = _unquote(literal.text)
        elif name in TYPE_ARGUMENT:
            argument = ".".join(self.path().text().split(".")[-1:])  # FHIR.boolean -> boolean
        elif name not in NO_ARGUMENT:
            raise PathSyntaxError(f"the function {name}() is not supported in a patch path")
        self.take(")")
        return Function(name, argument)


def parse_expression(text: str) -> Expression:
    """Parse FHIRPath text; PathSyntaxError when it is outside the supported subset."""
    parser = _Parser(text)
    expression = parser.expression()
    if parser.peek() is not None:
        raise PathSyntaxError(f"unexpected '{parser.take().text}' in '{text}'")
    return expression


def parse_path(text: str) -> Path:
    """Parse a patch path: a navigation expression, not a comparison or a literal."""
    expression = parse_expression(text)
    if not isinstance(expression, Path):
        raise PathSyntaxError(f"'{text}' is not a path to elements")
    return expression


def _step_text(step: Step) -> str:
    if isinstance(step, Member):
        return step.name
    if isinstance(step, Indexer):
        return f"[{step.index}]"
    if isinstance(step, This):
        return "$this"
    if step.argument is None:
        return f"{step.name}()"
    if isinstance(step.argument, str):
        quoted = step.name in STRING_ARGUMENT
        return f"{step.name}('{step.argument}')" if quoted else f"{step.name}({step.argument})"
    return f"{step.name}(...)"
