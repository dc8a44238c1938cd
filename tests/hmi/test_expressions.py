"""The calc-tag expression language: values, quality propagation, runtime errors, rejections."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from hmi.expressions import MAX_LENGTH, Expression, ExpressionError, compile_expression
from hmi.tags import Quality, Reason, Value


def good(x: Any) -> Value:
    return Value(x, Quality.GOOD)


INPUTS: dict[str, Value] = {
    "A": good(3.0),
    "B": good(4),
    "Z": good(0),
    "ON": good(True),
    "HS1.TT101": good(70.5),
    "HS1.TT102": good(40.5),
    "HS1.FT101": good(36.0),
    "_diag.PLC1.loss_pct": good(2.5),
}


def run(text: str, inputs: dict[str, Value] | None = None) -> tuple[Any, Quality, Reason]:
    return compile_expression(text).evaluate((inputs or INPUTS).__getitem__)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("A * 2 + 1", 7.0),
        ("B / 8", 0.5),
        ("B // 3", 1),
        ("B % 3", 1),
        ("-B ** 2", -16),
        ("2 ** -1", 0.5),
        ("+A - -B", 7.0),
        ("HS1.FT101 * (HS1.TT101 - HS1.TT102) * 4.186 / 3600", 36.0 * 30.0 * 4.186 / 3600),
        ("_diag.PLC1.loss_pct > 1", True),
        ("A < B", True),
        ("A == 3", True),
        ("A != 3", False),
        ("1 < A < B < 5", True),
        ("1 < A > B", False),
        ("A > 1 and B > 1", True),
        ("A > 5 or B > 5", False),
        ("not ON", False),
        ("A and Z", False),
        ("Z or B", True),
        ("A if ON else B", 3.0),
        ("A if Z else B", 4),
        ("abs(-A)", 3.0),
        ("min(A, B, 1)", 1),
        ("max(A, B)", 4),
        ("round(2.567, 2)", 2.57),
        ("round(A + 0.6)", 4),
        ("sqrt(B)", 2.0),
        ("exp(0)", 1.0),
        ("log(math_e) if 0 else log(B, 2)", 2.0),
        ("log10(1000)", 3.0),
        ("floor(-A - 0.5)", -4),
        ("ceil(A + 0.1)", 4),
        ("clamp(HS1.TT101, 0, 50)", 50),
        ("clamp(A, 0, 50)", 3.0),
        ("True + 1", 2),
    ],
)
def test_values(text: str, expected: Any) -> None:
    inputs = {**INPUTS, "math_e": good(math.e)}
    value, quality, reason = run(text, inputs)
    assert value == pytest.approx(expected)
    assert type(value) is type(expected) or isinstance(expected, float)
    assert (quality, reason) == (Quality.GOOD, Reason.NONE)


def test_comparisons_and_logic_give_bools() -> None:
    for text in ("A < B", "1 < A < B", "A > 1 and B", "Z or A", "not A", "A == A"):
        assert type(run(text)[0]) is bool, text


def test_names_are_the_referenced_tags_once_each() -> None:
    expr = compile_expression("HS1.TT101 - HS1.TT102 + HS1.TT101 * _diag.PLC1.loss_pct")
    assert expr.names == frozenset({"HS1.TT101", "HS1.TT102", "_diag.PLC1.loss_pct"})
    calls: list[str] = []

    def lookup(name: str) -> Value:
        calls.append(name)
        return INPUTS[name]

    expr.evaluate(lookup)
    assert sorted(calls) == sorted(expr.names)  # each input looked up once per evaluation


def test_expression_is_frozen_and_keeps_its_text() -> None:
    expr = compile_expression("A + 1")
    assert isinstance(expr, Expression)
    assert expr.text == "A + 1"
    with pytest.raises(AttributeError):
        expr.text = "B"  # type: ignore[misc]


def test_quality_is_the_worst_input() -> None:
    inputs = {"A": good(1.0), "B": Value(2.0, Quality.UNCERTAIN, Reason.STALE)}
    assert run("A + B", inputs) == (3.0, Quality.UNCERTAIN, Reason.STALE)
    assert run("A + 1", inputs) == (2.0, Quality.GOOD, Reason.NONE)


def test_bad_input_gives_none_with_that_inputs_reason() -> None:
    inputs = {
        "A": Value(None, Quality.BAD, Reason.COMM_FAILURE),
        "B": Value(2.0, Quality.UNCERTAIN, Reason.STALE),
        "C": Value(5.0, Quality.BAD, Reason.OUT_OF_RANGE),
    }
    assert run("B + A", inputs) == (None, Quality.BAD, Reason.COMM_FAILURE)
    assert run("C * 2", inputs) == (None, Quality.BAD, Reason.OUT_OF_RANGE)


@pytest.mark.parametrize(
    "text",
    [
        "A / Z",
        "A // Z",
        "A % Z",
        "Z ** -1",
        "sqrt(-A)",
        "log(Z)",
        "log10(-A)",
        "exp(A * 1000)",
        "A ** 0.5 if 0 else (-A) ** 0.5",
        "B ** 9 ** 9",
        "HS1.TT101 ** 1000",
        "A * 1e308",
        "round(A, -10 ** 9)",
        "clamp(A, 5, 1)",
        "floor(A * 1e308)",
    ],
)
def test_runtime_errors_give_calc_error(text: str) -> None:
    assert run(text) == (None, Quality.BAD, Reason.CALC_ERROR)


def test_none_or_text_input_gives_calc_error() -> None:
    assert run("A + 1", {"A": Value(None, Quality.GOOD)}) == (None, Quality.BAD, Reason.CALC_ERROR)
    assert run("A * 3", {"A": good("ab")}) == (None, Quality.BAD, Reason.CALC_ERROR)
    assert run("A * 1000000000", {"A": good("x")}) == (None, Quality.BAD, Reason.CALC_ERROR)


def test_numpy_scalars_are_numbers() -> None:
    np = pytest.importorskip("numpy")
    assert run("A + B", {"A": good(np.float32(1.5)), "B": good(np.int64(2))})[0] == 3.5


UNSAFE = [
    (
        "__import__('os')",
        "column 1: function '__import__' is not allowed (allowed: abs, min, max, "
        "round, sqrt, exp, log, log10, floor, ceil, clamp)",
    ),
    ("().__class__", "column 1: attribute access is only allowed in tag names like HS1.TT101"),
    ("open('x')", "column 1: function 'open' is not allowed"),
    ("A + open('x')", "column 5: function 'open' is not allowed"),
    ("HS1.TT101.__class__", "column 1: name '__class__' is not allowed"),
    ("__builtins__", "column 1: name '__builtins__' is not allowed"),
    ("lambda: 1", "column 1: lambda is not allowed"),
    ("[x for x in A]", "column 1: comprehensions are not allowed"),
    ("(x for x in A)", "column 1: comprehensions are not allowed"),
    ("A[0]", "column 1: indexing with [...] is not allowed"),
    ("'rm -rf'", "column 1: text strings are not allowed"),
    ("f'{A}'", "column 1: text strings are not allowed"),
    ("(x := 1)", "column 2: assignment with ':=' is not allowed"),
    ("max(*A)", "column 5: '*' unpacking is not allowed"),
    ("round(A, ndigits=2)", "column 10: round: keyword arguments are not allowed"),
    ("math.sqrt(A)", "column 1: 'math.sqrt' cannot be called"),
    ("A.B.C()", "column 1: 'A.B.C' cannot be called"),
    ("(1).real", "column 1: attribute access is only allowed in tag names"),
    ("9**9**9", "column 1: cannot be computed: number too large"),
    ("1 / 0", "column 1: cannot be computed: division by zero"),
    ("A & 1", "column 3: operator '&' is not allowed (use 'and', 'or', 'not')"),
    ("A in B", "column 3: operator 'in' is not allowed"),
    ("A is None", "column 3: operator 'is' is not allowed"),
    ("None", "column 1: constant None is not allowed"),
    ("1j", "column 1: constant 1j is not allowed"),
    ("[1, 2]", "column 1: lists are not allowed"),
    ("{}", "column 1: dicts are not allowed"),
    ("sqrt", "column 1: function 'sqrt' must be called"),
    ("clamp(A, 1)", "column 1: clamp takes 3 arguments, got 2"),
    ("A +", "column 4: syntax error: ends too early"),
    ("A B", "column 3: syntax error: invalid syntax"),
    ("A +\n  $", "line 2, column 3: syntax error"),
    ("", "expression is empty"),
    ("-" * 500 + "A", "expression is nested too deeply"),
    ("(" * 10_000 + "A" + ")" * 10_000, f"at most {MAX_LENGTH}"),
    ("-" * 10_000 + "A", f"at most {MAX_LENGTH}"),
    ("abs(" * 100 + "A" + ")" * 100, "nested too deeply (more than 64)"),
    ("abs(" * 300 + "A" + ")" * 300, "nested"),
    ("(" * 500 + "A" + ")" * 500, "nested"),
]


@pytest.mark.parametrize(("text", "message"), UNSAFE, ids=[t[:20] for t, _ in UNSAFE])
def test_unsafe_or_invalid_expressions_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_rejection_executes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def trap(*args: object, **kwargs: object) -> None:
        raise AssertionError("executed user code")

    monkeypatch.setattr(builtins, "open", trap)
    monkeypatch.setattr(builtins, "__import__", trap)
    for text, _ in UNSAFE:
        with pytest.raises(ExpressionError):
            compile_expression(text)


def test_error_carries_column_and_problem() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("HS1.TT101 + open('x')")
    assert caught.value.column == 13
    assert caught.value.problem.startswith("function 'open' is not allowed")
    assert str(caught.value).startswith("column 13: function 'open'")
    assert isinstance(caught.value, ValueError)


def test_leading_spaces_and_line_breaks_are_allowed() -> None:
    assert run("  A +\n  B")[0] == 7.0


def test_constant_parts_are_folded_but_stay_correct() -> None:
    assert run("A * (2 + 3) - 10 / 4")[0] == 12.5
    assert compile_expression("2 * 3").names == frozenset()
    assert run("2 * 3") == (6, Quality.GOOD, Reason.NONE)


def test_evaluation_is_fast() -> None:
    expr = compile_expression("HS1.FT101 * (HS1.TT101 - HS1.TT102) * 4.186 / 3600")
    lookup = INPUTS.__getitem__
    start = time.perf_counter()
    for _ in range(20_000):
        expr.evaluate(lookup)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed / 20_000 * 1e6:.1f} µs per evaluation"
