"""The documented limits refuse runaway specs early, with a located SpecError, and
never with a RecursionError or a ValueError from int/str conversion."""

from __future__ import annotations

import pytest

from sphinx_cnntable import engine
from sphinx_cnntable.engine import analyse
from sphinx_cnntable.errors import SpecError
from sphinx_cnntable.limits import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_LINE_CHARS,
    MAX_REPEAT,
    MAX_ROWS,
    MAX_SPEC_BYTES,
    MAX_WORK,
    TAPS_PER_STEP,
    WORK_CHARS,
)


def error_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        analyse(text)
    return info.value


@pytest.fixture
def layers_applied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The layer lines the engine computes, in order: how much work ran before a refusal."""
    applied: list[str] = []
    original = engine._apply_layer

    def counting(text: str, *args: object, **kwargs: object) -> object:
        applied.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(engine, "_apply_layer", counting)
    return applied


@pytest.fixture
def defaults_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many ``default`` lines the engine runs; fails (instead of hanging) past 2 * MAX_WORK."""
    runs = [0]
    original = engine._default

    def counting(*args: object) -> None:
        runs[0] += 1
        assert runs[0] <= 2 * MAX_WORK, "the engine ran away: default lines are not counted as work"
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_default", counting)
    return runs


WORK_MESSAGE = f"the spec takes more than {MAX_WORK:,} steps to compute (the limit; every statement run counts)"


def test_regression_statements_that_make_no_row_count_as_work(defaults_run: list[int]) -> None:
    # the row limit never saw these: 10^10 default lines used to run for ever
    error = error_of("input 8x8x3\nrepeat 100000:\n  repeat 100000:\n    default bias=no\nrelu")
    assert (error.line, error.message) == (2, WORK_MESSAGE)
    assert defaults_run[0] == 100_000  # refused after the first outer iteration showed the cost


def test_regression_thirty_nested_repeats_are_bounded(defaults_run: list[int]) -> None:
    # the Sphinx case: 30 levels ran for over a minute
    nested = "".join("  " * level + "repeat 100000:\n" for level in range(30))
    error = error_of("input 8x8x3\n" + nested + "  " * 30 + "default bias=no\nrelu")
    assert (error.line, error.message) == (30, WORK_MESSAGE)  # the 29th level, after one run of the 30th
    assert defaults_run[0] == 100_000
    nested = "".join("  " * level + "repeat 2:\n" for level in range(30))
    error = error_of("input 8x8x3\n" + nested + "  " * 30 + "default bias=no\nrelu")
    assert 2 <= error.line <= 31
    assert defaults_run[0] <= 100_000 + MAX_WORK // 2  # each default costs 2 steps with its iteration


def test_regression_user_blocks_of_defaults_are_bounded(defaults_run: list[int]) -> None:
    error = error_of("input 8x8x3\ndefine a:\n  default bias=no\n  default bias=yes\ndefine b:\n  a x 1000\nb x 1000")
    assert (error.line, error.message) == (7, WORK_MESSAGE)
    assert defaults_run[0] <= 2 * 2000  # refused after the second call showed the cost


def test_work_limit_is_exact() -> None:
    # steps: 1 (outer repeat) + A * (1 iteration + 1 inner repeat + 999 * (1 iteration + 1 default)) + 1 (relu)
    assert len(analyse("input 8x8x3\nrepeat 499:\n  repeat 999:\n    default bias=no\nrelu").rows) == 1 + 1 + 499 + 1
    error = error_of("input 8x8x3\nrepeat 500:\n  repeat 999:\n    default bias=no\nrelu")
    assert (error.line, error.message) == (2, WORK_MESSAGE)


def test_long_lines_count_by_their_length(defaults_run: list[int]) -> None:
    line = "default " + " ".join(["bias=no"] * 1200)  # 9,607 characters: 97 steps a run
    error = error_of("input 8x8x3\nrepeat 100000:\n  " + line + "\nrelu")
    assert (error.line, error.message) == (2, WORK_MESSAGE)
    assert defaults_run[0] == 1
    steps = 1 + len(line) // WORK_CHARS
    assert len(analyse("input 8x8x3\nrepeat 10000:\n  " + line + "\nrelu").rows) == 3
    assert 1 + 10_000 * (1 + steps) + 1 <= MAX_WORK


def test_textbook_receptive_fields_count_no_work() -> None:
    # without upsampling every axis has period 1: a layer is one step, however large its kernel
    assert analyse("input 224x224x3\nconv3-64\nmaxpool\nconv7-64/2\nconv99-8").work == 4
    assert analyse("input 224x224x3\nrepeat 3:\n  conv3-64").work == 1 + 3 * (1 + 1)


def test_periodic_receptive_fields_count_their_evaluations() -> None:
    # deconv2/2 on period 1: 2 positions x (2 taps + 1) = 6 evaluations, 6 // 4 = 1 step;
    # conv3 on period 2 (stride 1): 2 positions x (2 * min(3, 2) taps + 1) = 10, 10 // 4 = 2
    assert TAPS_PER_STEP == 4
    assert analyse("input 8x1\ndeconv2-1/2\nconv3-1").work == (1 + 1) + (1 + 2)
    # the same on both axes of a map counts twice: (6 + 6) // 4 = 3, (10 + 10) // 4 = 5
    assert analyse("input 8x8x1\ndeconv2-1/2\nconv3-1").work == (1 + 3) + (1 + 5)


def test_regression_a_wide_window_on_a_long_period_is_refused_before_it_runs() -> None:
    # twelve 1x1 stride-2 transposed layers give the axis a period of 4,096 positions; a
    # 1,023-wide window then reads 2 * 1,023 taps at each: 4,096 * 2,047 / 4 = 2,096,128
    # steps, refused at once (it used to take seconds, and x100000 of them hours)
    error = error_of("input 64x1\ndeconv1-1/2 x12\nconv1023-1/3")
    assert (error.line, error.message) == (3, WORK_MESSAGE)
    error = error_of("input 64x1\ndeconv1-1/2 x12\nconv255-1 x100000")
    assert (error.line, error.message) == (3, WORK_MESSAGE)
    assert analyse("input 64x1\ndeconv1-1/2 x12\nconv255-1/3").work < MAX_WORK


def test_largest_legitimate_expansions_compute(layers_applied: list[str]) -> None:
    assert len(analyse(f"input 8x8x3\nrepeat {MAX_REPEAT}:\n  relu").rows) == MAX_REPEAT + 2
    assert len(analyse(f"input 8x8x3\nrelu x {MAX_REPEAT}").rows) == MAX_REPEAT + 1
    assert len(layers_applied) == 2 * MAX_REPEAT


def test_huge_repeat_is_refused_before_any_layer_runs(layers_applied: list[str]) -> None:
    error = error_of("input 8x8x3\nrepeat 1000000000:\n  relu")
    assert layers_applied == []
    assert (error.line, error.message) == (2, f"the repeat count 1,000,000,000 is over the limit of {MAX_REPEAT:,}")
    assert error_of("input 8x8x3\nrelu x 1000000000").line == 2


def test_total_expansion_is_refused_after_one_iteration(layers_applied: list[str]) -> None:
    error = error_of("input 8x8x3\nrepeat 1000:\n  repeat 1000:\n    relu")
    # the first outer iteration (1,000 relu rows) shows that 1,000 of them would need
    # 1,000,000 rows: refused then, not after 250,000 rows
    assert len(layers_applied) == 1000
    assert error.line == 2
    assert error.message == f"the spec expands to more than {MAX_ROWS:,} rows (the limit)"
    error = error_of("input 8x8x3\ndefine b:\n  relu x 100000\nb x 100000")
    assert error.line == 4 and "more than" in error.message


def test_nesting_depth_limit_by_indentation() -> None:
    lines = ["input 8x8x3"] + [" " * i + f"g{i}:" for i in range(MAX_DEPTH + 1)] + [" " * (MAX_DEPTH + 1) + "relu"]
    error = error_of("\n".join(lines))
    assert error.message == f"blocks are nested deeper than the limit of {MAX_DEPTH}"
    assert 2 <= error.line <= len(lines)


def test_regression_deep_indentation_is_not_a_recursion_error() -> None:
    lines = ["input 8x8x3"] + [" " * i + f"g{i}:" for i in range(1500)] + [" " * 1500 + "relu"]
    error = error_of("\n".join(lines))
    assert error.line == MAX_DEPTH + 3  # line 2 opens g0; the 33rd nested body is refused


@pytest.mark.parametrize("prefix", ["a: ", "residual: ", "repeat 2: "])
def test_regression_long_inline_chains_are_not_a_recursion_error(prefix: str) -> None:
    error = error_of("input 8x8x3\n" + prefix * (9000 // len(prefix)) + "relu")
    assert error.line == 2
    assert error.message == f"more than {MAX_DEPTH} labels or block headers on one line"


def test_recursion_through_user_blocks() -> None:
    error = error_of("input 8x8x3\ndefine a:\n  relu\n  a\na")
    assert error.line == 5
    assert "a block cannot call itself (a -> a)" in error.message
    error = error_of("input 8x8x3\ndefine a:\n  b\ndefine b:\n  a\na")
    assert error.line == 6 and "(a -> b -> a)" in error.message


def test_nested_user_blocks_hit_the_depth_limit() -> None:
    defines = [f"define d{i}:\n  d{i + 1}" for i in range(40)] + ["define d40:\n  relu"]
    error = error_of("input 8x8x3\n" + "\n".join(defines) + "\nd0")
    assert f"blocks are nested deeper than the limit of {MAX_DEPTH}" in error.message


def test_spec_size_and_line_length() -> None:
    error = error_of("input 8x8x3\n" + "relu\n" * (MAX_SPEC_BYTES // 5 + 1))
    assert (error.line, error.message) == (1, f"the spec is larger than the limit of {MAX_SPEC_BYTES:,} bytes")
    error = error_of("input 8x8x3\nrelu " + "p" * MAX_LINE_CHARS)
    assert (error.line, error.message) == (2, f"line is longer than {MAX_LINE_CHARS:,} characters")


def test_regression_numbers_with_thousands_of_digits() -> None:
    # int() and str() refuse more than 4300 digits with a ValueError: these used to escape
    assert "too large" in error_of("input 8x8x3\nconv1-" + "9" * 5000).message
    assert "too large" in error_of("input " + "9" * 5000).message
    assert "too large" in error_of("input 8x8x3\ndefine b n:\n  conv1-{n}\nb " + "9" * 5000).message
    assert error_of("input 8x8x3\nconv1-{" + "*".join(["99999999"] * 700) + "}").line == 2
    assert f"more than {MAX_DIGITS} digits" in error_of("input 8x8x3\nrelu x" + "9" * 5000).message


def test_regression_sizes_cannot_grow_without_bound() -> None:
    doubling = "input 1x1x1\nrepeat 20000:\n  concat:\n    branch: identity\n    branch: identity"
    error = error_of(doubling)
    assert error.line == 3 and f"more than {MAX_DIGITS} digits" in error.message
    error = error_of("input 2x2x1\ndeconv2-1/1000000 pad=0 x 100")
    assert error.line == 2 and f"more than {MAX_DIGITS} digits" in error.message


def test_largest_allowed_numbers_work() -> None:
    big = 10**MAX_DIGITS - 1
    breakdown = analyse(f"input {big}\nfc-1")
    assert breakdown.totals.weights == big


def test_regression_thousands_of_leading_zeros() -> None:
    # found by the fuzzer: "0" * 5000 has no significant digits but int() still refused it
    zeros = "0" * 5000
    assert analyse(f"input 8x8x3\nconv1-{zeros}4").rows[-1].output_shape == (8, 8, 4)
    assert analyse(f"input 8x8x3\nconv1-{{{zeros}4}}").rows[-1].output_shape == (8, 8, 4)
    assert analyse(f"input 8x8x3\ndefine b n:\n  conv1-{{n}}\nb {zeros}4").rows[-1].output_shape == (8, 8, 4)
    assert "at least 1" in error_of(f"input 8x8x3\nconv1-{zeros}").message
