"""Turn a parse tree into nested Python closures, checking names against the model on the way.

Each node of the tree becomes a function ``(env, input) -> collection``. The compiler also tracks
the static type of each step where it can (starting from the context type it is given): a name the
model does not have (``Observation.valueQuantity``, ``name.given1``) or a cast that can never match
(``(Observation.value as Period)``) is a semantic error at compile time instead of a silent empty.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.functions import FUNCTIONS
from fhir_server.fhirpath.functions.base import EXPRESSION, TYPE, Descending, Fn, TypeSpecifier, to_boolean
from fhir_server.fhirpath.literals import identifier, literal_value, unescape
from fhir_server.fhirpath.model import FhirModel
from fhir_server.fhirpath.navigation import navigate
from fhir_server.fhirpath.nodes import is_exact_type, is_type, system_value
from fhir_server.fhirpath.operators import BINARY
from fhir_server.fhirpath.parser import PARTIAL_DATE_TIME
from fhir_server.fhirpath.quantity import Quantity
from fhir_server.fhirpath.temporal import DATETIME, parse_date_time

P: Any = FHIRPathParser  # the generated parse-tree classes (untyped)
Static = frozenset[str] | None  # the FHIR types a step can yield; None: unknown (or System)

SYSTEM_TYPES = frozenset(
    {"Any", "Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Time", "Quantity"}
)
_ORDER_DEPENDENT = frozenset({"first", "last", "tail", "skip", "take", "single"})
_LOOSER_THAN_TYPE_TESTS = (P.UnionExpressionContext, P.InequalityExpressionContext)


def _identity(env: Any, focus: list[Any]) -> list[Any]:
    return focus


class Compiler:
    """Compiles expressions for one model; ``context_type`` is the type of the evaluated item."""

    def __init__(
        self, model: FhirModel, *, check_ordered_functions: bool = False, lenient_casts: bool = False
    ) -> None:
        self.model = model
        self.check_ordered_functions = check_ordered_functions
        self.lenient_casts = lenient_casts

    def compile(self, tree: Any, context_type: str | None) -> Fn:
        fn, _ = self._expression(tree, frozenset({context_type}) if context_type else None)
        return fn

    # ----- expressions ------------------------------------------------------------------------

    def _expression(self, ctx: Any, this: Static) -> tuple[Fn, Static]:
        if isinstance(ctx, P.TermExpressionContext):
            return self._term(ctx.term(), this)
        if isinstance(ctx, P.InvocationExpressionContext):
            if self.check_ordered_functions:
                self._check_order(ctx)
            left, left_types = self._expression(ctx.expression(), this)
            return self._invocation(ctx.invocation(), left, left_types, this, root=False)
        if isinstance(ctx, P.IndexerExpressionContext):
            return self._indexer(ctx, this)
        if isinstance(ctx, P.PolarityExpressionContext):
            return self._polarity(ctx, this)
        if isinstance(ctx, P.TypeExpressionContext):
            return self._type_expression(ctx, this)
        if isinstance(ctx, P.AndExpressionContext | P.OrExpressionContext | P.ImpliesExpressionContext):
            return self._logic(ctx, this), None
        operator_text = ctx.getChild(1).getText()
        operator = BINARY.get(operator_text)
        if operator is None:
            raise FhirPathError("syntax", f"unknown operator {operator_text}")
        left, left_types = self._expression(ctx.expression(0), this)
        right, right_types = self._expression(ctx.expression(1), this)

        def binary(env: Any, focus: list[Any]) -> list[Any]:
            return operator(left(env, focus), right(env, focus))

        if operator_text == "|" and left_types is not None and right_types is not None:
            return binary, left_types | right_types
        return binary, None

    def _check_order(self, ctx: Any) -> None:
        """An order-dependent function on the unordered output of children()/descendants()."""
        invocation = ctx.invocation()
        if not isinstance(invocation, P.FunctionInvocationContext):
            return
        if identifier(invocation.functn().identifier()) not in _ORDER_DEPENDENT:
            return
        left = ctx.expression()
        unordered = (
            isinstance(left, P.InvocationExpressionContext)
            and isinstance(left.invocation(), P.FunctionInvocationContext)
            and identifier(left.invocation().functn().identifier()) in ("children", "descendants")
        )
        if unordered:
            raise FhirPathError("semantic", "the order of children() and descendants() is undefined")

    def _logic(self, ctx: Any, this: Static) -> Fn:
        operator = ctx.getChild(1).getText()
        left, _ = self._expression(ctx.expression(0), this)
        right, _ = self._expression(ctx.expression(1), this)

        def value(fn: Fn, env: Any, focus: list[Any]) -> bool | None:
            return to_boolean(fn(env, focus), f"the operand of {operator}")

        def logic_and(env: Any, focus: list[Any]) -> list[Any]:
            a = value(left, env, focus)
            if a is False:
                return [False]
            b = value(right, env, focus)
            if b is False:
                return [False]
            return [True] if a is True and b is True else []

        def logic_or(env: Any, focus: list[Any]) -> list[Any]:
            a = value(left, env, focus)
            if a is True:
                return [True]
            b = value(right, env, focus)
            if b is True:
                return [True]
            return [False] if a is False and b is False else []

        def logic_xor(env: Any, focus: list[Any]) -> list[Any]:
            a = value(left, env, focus)
            b = value(right, env, focus)
            return [] if a is None or b is None else [a != b]

        def logic_implies(env: Any, focus: list[Any]) -> list[Any]:
            a = value(left, env, focus)
            if a is False:
                return [True]
            b = value(right, env, focus)
            if b is True:
                return [True]
            return [False] if a is True and b is False else []

        table: dict[str, Fn] = {"and": logic_and, "or": logic_or, "xor": logic_xor, "implies": logic_implies}
        return table[operator]

    def _indexer(self, ctx: Any, this: Static) -> tuple[Fn, Static]:
        left, left_types = self._expression(ctx.expression(0), this)
        index_fn, _ = self._expression(ctx.expression(1), this)

        def indexer(env: Any, focus: list[Any]) -> list[Any]:
            items = left(env, focus)
            position = to_index(index_fn(env, focus))
            if position is None or position < 0 or position >= len(items):
                return []
            return [items[position]]

        return indexer, left_types

    def _polarity(self, ctx: Any, this: Static) -> tuple[Fn, Static]:
        operand, _ = self._expression(ctx.expression(), this)
        if ctx.getChild(0).getText() == "+":
            return operand, None

        def negate(env: Any, focus: list[Any]) -> list[Any]:
            items = operand(env, focus)
            if not items:
                return []
            if len(items) > 1:
                raise FhirPathError("execution", "unary minus on more than one item")
            value = system_value(items[0])
            if isinstance(value, bool) or not isinstance(value, int | Decimal | Quantity):
                raise FhirPathError("execution", "unary minus needs a number or a quantity")
            if isinstance(value, Quantity):
                return [Quantity(-value.value, value.unit)]
            return [-value]

        return negate, None

    def _type_expression(self, ctx: Any, this: Static) -> tuple[Fn, Static]:
        inner = ctx.expression()
        if isinstance(inner, _LOOSER_THAN_TYPE_TESTS):
            return self._rotated_type_expression(ctx, inner, this)
        operand, operand_types = self._expression(inner, this)
        return self._type_test(ctx, operand, operand_types)

    def _rotated_type_expression(self, ctx: Any, inner: Any, this: Static) -> tuple[Fn, Static]:
        """``a | b is T`` means ``a | (b is T)``: the grammar fhirpathpy ships binds ``is``/``as``
        looser than ``|`` and comparisons, the specification's precedence table tighter."""
        operator = BINARY[inner.getChild(1).getText()]
        left, _ = self._expression(inner.expression(0), this)
        right_operand = inner.expression(1)
        if isinstance(right_operand, _LOOSER_THAN_TYPE_TESTS):
            right, _ = self._rotated_type_expression(ctx, right_operand, this)
        else:
            operand, operand_types = self._expression(right_operand, this)
            right, _ = self._type_test(ctx, operand, operand_types)

        def binary(env: Any, focus: list[Any]) -> list[Any]:
            return operator(left(env, focus), right(env, focus))

        return binary, None

    def _type_test(self, ctx: Any, operand: Fn, operand_types: Static) -> tuple[Fn, Static]:
        specifier = self.type_specifier(ctx.typeSpecifier().getText())
        model = self.model
        if ctx.getChild(1).getText() == "is":

            def is_fn(env: Any, focus: list[Any]) -> list[Any]:
                items = operand(env, focus)
                if not items:
                    return []
                if len(items) > 1:
                    raise FhirPathError("execution", "'is' on more than one item")
                return [is_type(items[0], specifier.namespace, specifier.name, model)]

            return is_fn, None
        self.check_cast(operand_types, specifier)

        lenient = self.lenient_casts

        def as_fn(env: Any, focus: list[Any]) -> list[Any]:
            items = operand(env, focus)
            if len(items) > 1 and not lenient:
                raise FhirPathError("execution", "'as' on more than one item")
            return [i for i in items if is_exact_type(i, specifier.namespace, specifier.name, model)]

        return as_fn, frozenset({specifier.name})

    # ----- terms and invocations ------------------------------------------------------------

    def _term(self, term: Any, this: Static) -> tuple[Fn, Static]:
        if isinstance(term, P.InvocationTermContext):
            return self._invocation(term.invocation(), _identity, this, this, root=True)
        if isinstance(term, P.LiteralTermContext):
            return self._literal(term.literal()), None
        if isinstance(term, P.ParenthesizedTermContext):
            return self._expression(term.expression(), this)
        if isinstance(term, P.ExternalConstantTermContext):
            return self._constant(term.externalConstant()), None
        raise FhirPathError("syntax", f"unexpected {term.getText()}")

    def _constant(self, ctx: Any) -> Fn:
        name = unescape(ctx.STRING().getText()[1:-1]) if ctx.STRING() else identifier(ctx.identifier())
        if name.startswith(PARTIAL_DATE_TIME):
            literal = parse_date_time(name[len(PARTIAL_DATE_TIME) :], kind=DATETIME)
            return lambda env, focus: [literal]

        def constant(env: Any, focus: list[Any]) -> list[Any]:
            value = env.variable(name)
            if value is None:
                raise FhirPathError("execution", f"unknown variable %{name}")
            return value  # type: ignore[no-any-return]

        return constant

    def _invocation(
        self, inv: Any, left: Fn, left_types: Static, this: Static, *, root: bool
    ) -> tuple[Fn, Static]:
        if isinstance(inv, P.MemberInvocationContext):
            name = identifier(inv.identifier())
            if root and name[:1].isupper() and self.model.knows(name):
                return self._type_filter(name, left_types)
            return self._member(name, left, left_types)
        if isinstance(inv, P.FunctionInvocationContext):
            return self._function(inv.functn(), left, left_types, this)
        if isinstance(inv, P.ThisInvocationContext):
            return (lambda env, focus: env.this), this
        if isinstance(inv, P.IndexInvocationContext):
            return (lambda env, focus: [] if env.index is None else [env.index]), None
        if isinstance(inv, P.TotalInvocationContext):
            return (lambda env, focus: env.total), None
        raise FhirPathError("syntax", f"unexpected {inv.getText()}")

    def _type_filter(self, name: str, focus_types: Static) -> tuple[Fn, Static]:
        """``Patient`` at the start of ``Patient.name``: the input when it is a Patient."""
        model = self.model
        if focus_types is not None and not any(
            model.is_subtype(t, name) or model.is_subtype(name, t) for t in focus_types
        ):
            raise FhirPathError("semantic", f"the context is not a {name}")

        def type_filter(env: Any, focus: list[Any]) -> list[Any]:
            return [item for item in focus if is_type(item, "FHIR", name, model)]

        return type_filter, frozenset({name})

    def _member(self, name: str, left: Fn, left_types: Static) -> tuple[Fn, Static]:
        model = self.model
        result_types: Static = None
        if left_types is not None and all(model.knows(t) for t in left_types):
            found: set[str] = set()
            for type_name in left_types:
                spec = model.element(type_name, name)
                if spec is not None:
                    found.update(spec.types)
            if not found and all(model.types[t].kind != "primitive" for t in left_types):
                raise FhirPathError("semantic", f"{' | '.join(sorted(left_types))} has no element {name!r}")
            result_types = frozenset(found) if found and "Resource" not in found else None
        if left is _identity:
            return (lambda env, focus: navigate(model, focus, name)), result_types
        return (lambda env, focus: navigate(model, left(env, focus), name)), result_types

    def _function(self, functn: Any, left: Fn, left_types: Static, this: Static) -> tuple[Fn, Static]:
        name = identifier(functn.identifier())
        definition = FUNCTIONS.get("ofType" if name == "as" and self.lenient_casts else name)
        if definition is None:
            raise FhirPathError("semantic", f"unknown function {name}()")
        params = functn.paramList().expression() if functn.paramList() else []
        if not definition.min_args <= len(params) <= len(definition.params):
            raise FhirPathError("semantic", f"{name}() takes {len(definition.params)} argument(s)")
        arguments: list[Any] = []
        value_positions: list[int] = []
        type_argument: TypeSpecifier | None = None
        for position, (param, kind) in enumerate(zip(params, definition.params, strict=False)):
            if kind == EXPRESSION and name == "sort" and _is_negated(param):
                fn, _ = self._expression(param.expression(), left_types)
                arguments.append(Descending(fn))
            elif kind == EXPRESSION:
                fn, _ = self._expression(param, left_types)
                arguments.append(fn)
            elif kind == TYPE:
                type_argument = self.type_specifier(param.getText())
                arguments.append(type_argument)
            else:
                fn, _ = self._expression(param, this)
                arguments.append(fn)
                value_positions.append(position)
        if name in ("as", "ofType") and type_argument is not None:
            self.check_cast(left_types, type_argument)
        impl = definition.impl
        values = tuple(value_positions)

        def call(env: Any, focus: list[Any]) -> list[Any]:
            items = left(env, focus)
            if values:
                this_items = env.this
                args = list(arguments)
                for position in values:
                    args[position] = arguments[position](env, this_items)
                return impl(env, items, *args)
            return impl(env, items, *arguments)

        return call, self._result_types(definition.result, left_types, type_argument)

    @staticmethod
    def _result_types(result: str | None, left_types: Static, type_argument: TypeSpecifier | None) -> Static:
        if result == "focus":
            return left_types
        if result == "type":
            return (
                frozenset({type_argument.name})
                if type_argument and type_argument.namespace != "System"
                else None
            )
        if result is not None:
            return frozenset({result})
        return None

    # ----- types and literals -----------------------------------------------------------------

    def type_specifier(self, text: str) -> TypeSpecifier:
        parts = [unescape(p[1:-1]) if p.startswith("`") else p for p in text.split(".")]
        if len(parts) == 2:
            namespace, name = parts
        elif len(parts) == 1:
            namespace, name = None, parts[0]
        else:
            raise FhirPathError("semantic", f"bad type name {text}")
        if namespace == "FHIR" and not self.model.knows(name):
            raise FhirPathError("semantic", f"unknown type {text}")
        if namespace is None:
            if self.model.knows(name):
                namespace = "FHIR"
            elif name in SYSTEM_TYPES:
                namespace = "System"
            else:
                raise FhirPathError("semantic", f"unknown type {text}")
        if namespace not in ("FHIR", "System"):
            raise FhirPathError("semantic", f"unknown type namespace {namespace}")
        return TypeSpecifier(namespace, name)

    def check_cast(self, operand_types: Static, specifier: TypeSpecifier) -> None:
        """A cast to a type the operand can never have is a semantic error."""
        if operand_types is None or specifier.namespace != "FHIR":
            return
        if self.model.types[specifier.name].kind == "primitive":
            return
        model = self.model
        if not all(model.knows(t) for t in operand_types):
            return
        if not any(
            model.is_subtype(t, specifier.name) or model.is_subtype(specifier.name, t) for t in operand_types
        ):
            raise FhirPathError(
                "semantic", f"{' | '.join(sorted(operand_types))} is never a {specifier.name}"
            )

    def _literal(self, literal: Any) -> Fn:
        value = literal_value(literal)
        constant = [] if value is None else [value]
        return lambda env, focus: constant


def _is_negated(param: Any) -> bool:
    return isinstance(param, P.PolarityExpressionContext) and param.getChild(0).getText() == "-"


def to_index(collection: list[Any]) -> int | None:
    value = system_value(collection[0]) if len(collection) == 1 else None
    if len(collection) > 1:
        raise FhirPathError("execution", "an index must be a single integer")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FhirPathError("execution", "an index must be an integer")
    return value


CompiledFn = Callable[[Any, list[Any]], list[Any]]
