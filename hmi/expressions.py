"""The safe expression language of calc (derived) tags: parse, check, compile, evaluate.

Owns the grammar: numbers, True/False, arithmetic, comparisons, and/or/not, `a if c else b`,
a fixed set of functions and tag references written as dotted names (`HS1.TT101`). Text is
parsed with `ast.parse` and checked against a whitelist of node types, then compiled into a
tree of Python closures; user text is never passed to `eval`, `exec` or `compile`. Evaluation
propagates quality (worst of the inputs) and turns runtime failures into `calc_error`.
No I/O, no Qt, no imports of anything above `hmi.tags`.
"""

from __future__ import annotations

import ast
import math
import numbers
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hmi.tags import Quality, Reason, Value

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Expression",
    "ExpressionError",
    "compile_expression",
]

MAX_LENGTH = 2000  # characters of expression text
MAX_DEPTH = 64  # nesting depth of the syntax tree
_MAX_INT_BITS = 1100  # integer powers beyond this many bits are an overflow
_MAX_ROUND_DIGITS = 100
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Env = Sequence[Any]
Node = Callable[[Env], Any]


class ExpressionError(ValueError):
    """An expression that cannot be used; the message names the column and what to change."""

    def __init__(self, text: str, column: int, problem: str) -> None:
        where = _position(text, column)
        super().__init__(f"{where}: {problem}" if where else problem)
        self.text = text
        self.column = column  # 1-based character offset into the text (0 when not known)
        self.problem = problem


def _position(text: str, column: int) -> str:
    """'column 12' for one-line text, 'line 2, column 5' when the text spans lines."""
    if column <= 0:
        return ""
    before = text[: column - 1]
    if "\n" not in before:
        return f"column {column}"
    return f"line {before.count(chr(10)) + 1}, column {column - before.rfind(chr(10)) - 1}"


def _power(base: Any, exponent: Any) -> Any:
    """`base ** exponent` that refuses huge integers and complex results."""
    if isinstance(base, int) and isinstance(exponent, int):
        if exponent > 0 and abs(base) > 1 and exponent * math.log2(abs(base)) > _MAX_INT_BITS:
            raise OverflowError("result too large")
        return base**exponent
    result = base**exponent
    if isinstance(result, complex):
        raise ValueError("negative number raised to a fractional power")
    return result


def _round(x: Any, digits: Any = None) -> Any:
    """round() with a bounded number of digits (a huge negative count would take forever)."""
    if digits is None:
        return round(x)
    if not isinstance(digits, int) or abs(digits) > _MAX_ROUND_DIGITS:
        raise ValueError("round: digits must be a small integer")
    return round(x, digits)


def _clamp(x: Any, low: Any, high: Any) -> Any:
    """x limited to [low, high]."""
    if low > high:
        raise ValueError("clamp: low is above high")
    return low if x < low else high if x > high else x


# name -> (function, least arguments, most arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "abs": (abs, 1, 1),
    "min": (lambda *args: min(args), 2, 32),
    "max": (lambda *args: max(args), 2, 32),
    "round": (_round, 1, 2),
    "sqrt": (math.sqrt, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (math.log, 1, 2),
    "log10": (math.log10, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "clamp": (_clamp, 3, 3),
}
_ALLOWED = ", ".join(FUNCTIONS)

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_SYMBOL: dict[type[ast.AST], str] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
_REJECTED: dict[type[ast.AST], str] = {
    ast.Subscript: "indexing with [...] is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment with ':=' is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.JoinedStr: "text strings are not allowed (expressions work on numbers and booleans)",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Await: "'await' is not allowed",
}
_Compiled = tuple[Node, bool]  # the closure, and whether it is a constant


def _const(value: Any) -> Node:
    return lambda env: value


def _slot(index: int) -> Node:
    return lambda env: env[index]


def _binary(op: Callable[[Any, Any], Any], left: Node, right: Node) -> Node:
    return lambda env: op(left(env), right(env))


def _unary(op: Callable[[Any], Any], operand: Node) -> Node:
    return lambda env: op(operand(env))


def _chain(first: Node, pairs: tuple[tuple[Callable[[Any, Any], Any], Node], ...]) -> Node:
    if len(pairs) == 1:
        ((op, right),) = pairs
        return lambda env: op(first(env), right(env))

    def compare(env: Env) -> Any:
        left = first(env)
        for op, right_node in pairs:
            right = right_node(env)
            if not op(left, right):
                return False
            left = right
        return True

    return compare


def _all(parts: tuple[Node, ...]) -> Node:
    if len(parts) == 2:
        first, second = parts
        return lambda env: bool(first(env) and second(env))
    return lambda env: all(part(env) for part in parts)


def _any(parts: tuple[Node, ...]) -> Node:
    if len(parts) == 2:
        first, second = parts
        return lambda env: bool(first(env) or second(env))
    return lambda env: any(part(env) for part in parts)


def _choose(test: Node, body: Node, orelse: Node) -> Node:
    return lambda env: body(env) if test(env) else orelse(env)


def _call(function: Callable[..., Any], args: tuple[Node, ...]) -> Node:
    if len(args) == 1:
        (only,) = args
        return lambda env: function(only(env))
    if len(args) == 2:
        first, second = args
        return lambda env: function(first(env), second(env))
    return lambda env: function(*[arg(env) for arg in args])


class _Compiler:
    """Walks a parsed tree once, checking every node and building the closures."""

    def __init__(self, text: str, body: str, shift: int) -> None:
        self.text = text
        self.body = body  # the text handed to ast.parse
        self.shift = shift  # characters of `text` before `body`
        self.slots: dict[str, int] = {}

    def error(self, node: ast.AST, problem: str, after: ast.AST | None = None) -> ExpressionError:
        """An error at `node`, or at the operator that follows the `after` operand."""
        encoded = self.body.encode("utf-8")
        offset = getattr(node, "col_offset", -1)
        end = getattr(after, "end_col_offset", None)
        if isinstance(end, int):
            offset = end
            while offset < len(encoded) and encoded[offset : offset + 1] in b" )":
                offset += 1
        if offset < 0:
            return ExpressionError(self.text, 0, problem)
        chars = len(encoded[:offset].decode("utf-8", errors="ignore"))
        return ExpressionError(self.text, self.shift + chars + 1, problem)

    def compile(self, node: ast.AST, depth: int) -> _Compiled:
        if depth > MAX_DEPTH:
            raise self.error(node, f"expression is nested too deeply (more than {MAX_DEPTH})")
        depth += 1
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name | ast.Attribute):
            return self.reference(node)
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                raise self.error(node, _operator_problem(node.op), after=node.left)
            (left, right), const = self.children(depth, node.left, node.right)
            return self.fold(node, _binary(op, left, right), const)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, depth)
        if isinstance(node, ast.BoolOp):
            parts, const = self.children(depth, *node.values)
            return self.fold(node, (_all if isinstance(node.op, ast.And) else _any)(parts), const)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.IfExp):
            (test, body, orelse), const = self.children(depth, node.test, node.body, node.orelse)
            return self.fold(node, _choose(test, body, orelse), const)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        problem = _REJECTED.get(type(node), f"{type(node).__name__} is not allowed")
        raise self.error(node, problem)

    def children(self, depth: int, *nodes: ast.AST) -> tuple[tuple[Node, ...], bool]:
        """Compile child nodes; also say whether all of them are constants."""
        compiled = [self.compile(child, depth) for child in nodes]
        return tuple(fn for fn, _ in compiled), all(const for _, const in compiled)

    def fold(self, node: ast.AST, built: Node, const: bool) -> _Compiled:
        """Evaluate a node whose inputs are all constants once, now."""
        if not const:
            return built, False
        try:
            value = built(())
        except ZeroDivisionError:
            raise self.error(node, "cannot be computed: division by zero") from None
        except OverflowError:
            raise self.error(node, "cannot be computed: number too large") from None
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise self.error(node, f"cannot be computed: {exc}") from None
        return _const(value), True

    def constant(self, node: ast.Constant) -> _Compiled:
        value = node.value
        if isinstance(value, str | bytes):
            raise self.error(node, _REJECTED[ast.JoinedStr])
        if not isinstance(value, int | float):
            raise self.error(node, f"constant {value!r} is not allowed (numbers, True, False)")
        return _const(value), True

    def reference(self, node: ast.Name | ast.Attribute) -> _Compiled:
        parts: list[str] = []
        current: ast.AST = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.error(node, "attribute access is only allowed in tag names like HS1.TT101")
        parts.append(current.id)
        parts.reverse()
        for part in parts:
            if part.startswith("__"):
                raise self.error(
                    node, f"name {part!r} is not allowed (names starting with '__' are reserved)"
                )
            if not _IDENTIFIER.fullmatch(part):
                raise self.error(node, f"name {part!r} is not a plain ASCII identifier")
        name = ".".join(parts)
        if name in FUNCTIONS:
            raise self.error(node, f"function {name!r} must be called, e.g. {name}(x)")
        if name in ("None", "Ellipsis"):
            raise self.error(node, f"constant {name} is not allowed (numbers, True, False)")
        index = self.slots.setdefault(name, len(self.slots))
        return _slot(index), False

    def unary(self, node: ast.UnaryOp, depth: int) -> _Compiled:
        function = _UNARY.get(type(node.op))
        if function is None:
            raise self.error(node, _operator_problem(node.op))
        (operand,), const = self.children(depth, node.operand)
        return self.fold(node, _unary(function, operand), const)

    def compare(self, node: ast.Compare, depth: int) -> _Compiled:
        ops = []
        for op, left in zip(node.ops, [node.left, *node.comparators], strict=False):
            function = _COMPARE.get(type(op))
            if function is None:
                raise self.error(node, _operator_problem(op), after=left)
            ops.append(function)
        (first, *rest), const = self.children(depth, node.left, *node.comparators)
        return self.fold(node, _chain(first, tuple(zip(ops, rest, strict=True))), const)

    def call(self, node: ast.Call, depth: int) -> _Compiled:
        if not isinstance(node.func, ast.Name):
            shown = ast.unparse(node.func) if isinstance(node.func, ast.Attribute) else "this"
            raise self.error(node, f"{shown!r} cannot be called (allowed functions: {_ALLOWED})")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.error(node, f"function {name!r} is not allowed (allowed: {_ALLOWED})")
        if node.keywords:
            raise self.error(node.keywords[0], f"{name}: keyword arguments are not allowed")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, _REJECTED[ast.Starred])
        function, least, most = FUNCTIONS[name]
        if not least <= len(node.args) <= most:
            wanted = str(least) if least == most else f"{least} to {most}"
            raise self.error(node, f"{name} takes {wanted} arguments, got {len(node.args)}")
        args, const = self.children(depth, *node.args)
        return self.fold(node, _call(function, args), const)


def _operator_problem(op: ast.AST) -> str:
    symbol = _SYMBOL.get(type(op), type(op).__name__)
    hint = " (use 'and', 'or', 'not')" if symbol in ("&", "|", "~", "^") else ""
    return f"operator {symbol!r} is not allowed{hint}"


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression: its text, the tag names it reads, and a fast evaluator."""

    text: str
    names: frozenset[str]
    _order: tuple[str, ...] = field(repr=False, compare=False)
    _root: Node = field(repr=False, compare=False)

    def evaluate(self, lookup: Callable[[str], Value]) -> tuple[Any, Quality, Reason]:
        """Compute the value; quality is the worst of the inputs, failures are calc_error."""
        worst = Quality.GOOD
        reason = Reason.NONE
        env: list[Any] = []
        for name in self._order:
            current = lookup(name)
            if current.quality < worst:
                worst = current.quality
                reason = current.reason
            raw = current.value
            env.append(raw if type(raw) in _NUMERIC else _number(raw))
        if worst is Quality.BAD:
            return None, Quality.BAD, reason
        if None in env:
            return None, Quality.BAD, Reason.CALC_ERROR
        try:
            result = self._root(env)
        except (ArithmeticError, ValueError, TypeError):
            return None, Quality.BAD, Reason.CALC_ERROR
        if type(result) is float and not math.isfinite(result):
            return None, Quality.BAD, Reason.CALC_ERROR
        return result, worst, reason


_NUMERIC = (float, int, bool)


def _number(raw: Any) -> Any:
    """A plain int/float for other numeric types (numpy scalars); None for anything else."""
    if isinstance(raw, bool | int | float):
        return raw
    if isinstance(raw, numbers.Integral):
        return int(raw)
    if isinstance(raw, numbers.Real):
        return float(raw)
    return None


def compile_expression(text: str) -> Expression:
    """Parse and check `text` and compile it; raise ExpressionError with the column."""
    if not isinstance(text, str):
        raise ExpressionError("", 0, "an expression must be text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            text, 0, f"expression is too long ({len(text)} characters, at most {MAX_LENGTH})"
        )
    flat = re.sub(r"[\r\n\t\f\v]", " ", text)
    body = flat.lstrip()
    if not body.strip():
        raise ExpressionError(text, 0, "expression is empty")
    compiler = _Compiler(text, body, len(flat) - len(body))
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        if exc.offset:
            raise ExpressionError(
                text, compiler.shift + exc.offset, f"syntax error: {exc.msg}"
            ) from None
        message = "ends too early" if exc.msg == "invalid syntax" else exc.msg
        raise ExpressionError(text, len(text.rstrip()) + 1, f"syntax error: {message}") from None
    except ValueError:  # null characters (a SyntaxError from Python 3.12 on)
        raise ExpressionError(text, 0, "expression contains a null character") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(text, 0, "expression is nested too deeply") from None
    try:
        root, _ = compiler.compile(tree.body, 0)
    except RecursionError:
        raise ExpressionError(text, 0, "expression is nested too deeply") from None
    order = tuple(compiler.slots)
    return Expression(text, frozenset(order), order, root)
