"""``{...}`` integer arithmetic: grammar, precedence, exact division, errors, limits."""

from __future__ import annotations

import pytest

from sphinx_cnntable.arith import MAX_NESTING, ArithError, evaluate


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1+2*3", 7),
        ("(1+2)*3", 9),
        ("in*6", 144),
        ("in // 5", 4),
        ("in / 4", 6),
        ("in % 5", 4),
        ("-in + 30", 6),
        ("--3", 3),
        (" 2 * ( in - 4 ) ", 40),
        ("10 - 4 - 3", 3),
        ("2*3//4", 1),
        ("out", 32),
    ],
)
def test_values(text: str, value: int) -> None:
    assert evaluate(text, {"in": 24, "out": 32}) == value


def test_a_lone_name_may_be_a_string() -> None:
    assert evaluate("act", {"act": "relu6"}) == "relu6"
    with pytest.raises(ArithError, match="act is 'relu6', not a number"):
        evaluate("act*2", {"act": "relu6"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty placeholder {}"),
        ("1 +", "incomplete expression {1 +}"),
        ("(1", "incomplete expression {(1}"),
        ("1)", "unexpected ')' in {1)}"),
        ("x", "unknown name 'x' in {x}"),
        ("7/2", "7/2 is not an integer in {7/2}"),
        ("1/0", "division by zero in {1/0}"),
        ("1%0", "division by zero in {1%0}"),
        ("2 ^ 3", "cannot read {2 ^ 3} at '^ 3'"),
        ("1 2", "unexpected '2' in {1 2}"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ArithError) as info:
        evaluate(text, {})
    assert str(info.value) == message


def test_regression_deep_nesting_is_an_arith_error() -> None:
    evaluate("(" * MAX_NESTING + "1" + ")" * MAX_NESTING, {})
    for text in ("(" * 5000 + "1" + ")" * 5000, "-" * 5000 + "1"):
        with pytest.raises(ArithError, match="nests deeper than"):
            evaluate(text, {})


def test_regression_huge_values_are_an_arith_error() -> None:
    with pytest.raises(ArithError, match="more than 30 digits"):
        evaluate("9" * 5000, {})
    with pytest.raises(ArithError, match="more than 30 digits"):
        evaluate("*".join(["99999999"] * 700), {})
    with pytest.raises(ArithError, match="more than 30 digits"):
        evaluate("-" + "9" * 31, {})
    assert evaluate("9" * 30, {}) == 10**30 - 1
