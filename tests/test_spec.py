"""The spec language: layout, labels, counts, blocks, user blocks, defaults, and the
parser's errors (each with its line and message)."""

from __future__ import annotations

import pytest

from sphinx_cnntable.engine import Breakdown, analyse
from sphinx_cnntable.errors import SpecError
from sphinx_cnntable.spec import BlockStatement, DefineStatement, LayerStatement, parse


def names(breakdown: Breakdown) -> list[str]:
    return [row.name for row in breakdown.rows]


def shapes(breakdown: Breakdown) -> list[tuple[int, ...]]:
    return [row.output_shape for row in breakdown.rows if row.kind == "layer"]


def test_count_suffix_spellings_are_equivalent() -> None:
    reference = analyse("input 8x8x3\nconv3-4\nconv3-4\nconv3-4")
    for spelling in ("conv3-4 x3", "conv3-4 x 3", "conv3-4 ×3", "conv3-4 X3", "conv3-4 × 3"):
        breakdown = analyse(f"input 8x8x3\n{spelling}")
        assert breakdown.totals == reference.totals, spelling
        assert [row.line for row in breakdown.rows[1:]] == [2, 2, 2]


def test_labels_and_counted_labels() -> None:
    breakdown = analyse("input 8x8x3\nconv1_1: conv3-4\nconv2: conv3-8 x2\nfc: fc-10")
    assert names(breakdown) == ["input", "conv1_1", "conv2_1", "conv2_2", "fc"]
    assert breakdown.find("conv2_2")[0].output_shape == (8, 8, 8)


def test_case_comments_and_blank_lines() -> None:
    text = "# VGG start\nINPUT 224x224x3   # the image\n\n   \nCONV3-64 # first\nPOOL2\nMaxPool\nFC-10\n"
    breakdown = analyse(text)
    assert shapes(breakdown) == [(224, 224, 64), (112, 112, 64), (56, 56, 64), (10,)]
    assert [row.line for row in breakdown.rows] == [2, 5, 6, 7, 8]


def test_vector_input() -> None:
    breakdown = analyse("input 784\nfc-300\nrelu\nfc-10")
    assert breakdown.input_shape == (784,)
    assert breakdown.totals.params == 784 * 300 + 300 + 300 * 10 + 10


def test_named_group_and_repeat_paths() -> None:
    text = "input 8x8x3\nstage1:\n  conv3-4\n  b: repeat 2:\n    conv3-4\n    bn\n"
    breakdown = analyse(text)
    kinds = [(row.name, row.kind, row.depth) for row in breakdown.rows]
    assert kinds == [
        ("input", "input", 0),
        ("stage1", "group", 0),
        ("conv3-4", "layer", 1),
        ("b", "group", 1),
        ("#1", "group", 2),
        ("conv3-4", "layer", 3),
        ("bn", "layer", 3),
        ("#2", "group", 2),
        ("conv3-4", "layer", 3),
        ("bn", "layer", 3),
    ]
    assert breakdown.rows[4].path == "stage1.b_1" and breakdown.rows[4].block == "iteration"


def test_repeat_with_one_statement_has_no_iteration_rows() -> None:
    breakdown = analyse("input 8x8x3\nrepeat 3:\n  conv3-3\n")
    assert [row.kind for row in breakdown.rows] == ["input", "group", "layer", "layer", "layer"]
    assert breakdown.rows[1].name == "repeat 3"


def test_one_line_branches_and_blocks() -> None:
    one_line = analyse("input 8x8x16\nconcat:\n  branch: conv1-64\n  branch: conv1-32")
    assert one_line.output_shape == (8, 8, 96)
    inline = analyse("input 8x8x16\nresidual: conv3-16\nrepeat 2: bn")
    assert [row.kind for row in inline.rows] == ["input", "group", "layer", "merge", "group", "layer", "layer"]


def test_user_block_with_defaults_keywords_and_arithmetic() -> None:
    text = (
        "input 56x56x24\n"
        "define inverted out stride=1 expand=6:\n"
        "  conv1-{in*expand}\n"
        "  dwconv3/{stride}\n"
        "  conv1-{out}\n"
        "inverted 32 2\n"
        "inverted out=32 expand=1\n"
        "b: inverted 16 stride=1 expand={2*(3+1)//4}\n"
    )
    breakdown = analyse(text)
    assert shapes(breakdown) == [
        (56, 56, 144), (28, 28, 144), (28, 28, 32),
        (28, 28, 32), (28, 28, 32), (28, 28, 32),
        (28, 28, 64), (28, 28, 64), (28, 28, 16),
    ]
    calls = [row for row in breakdown.rows if row.block == "call"]
    assert [row.name for row in calls] == ["inverted 32 2", "inverted out=32 expand=1", "b"]


def test_default_bias_scopes() -> None:
    assert analyse("input 4x4x3\ndefault bias=no\nconv3-4\nfc-2").totals.biases == 0
    only_conv = analyse("input 4x4x3\ndefault conv bias=no\nconv3-4\nbn\nfc-2")
    assert [row.biases for row in only_conv.rows[1:]] == [0, 4, 2]
    # an explicit keyword beats the default
    assert analyse("input 4x4x3\ndefault bias=no\nconv3-4 bias=yes").totals.biases == 4
    # the later default wins, whether it names a family or not (conv3-4: 4 biases, fc-2: 2);
    # regression: a family default after `default bias=yes` (or `:bias: no`) was ignored
    def biases(text: str, bias: bool | None = None) -> list[int]:
        return [row.biases for row in analyse(text, bias=bias).rows[1:]]

    assert biases("input 4x4x3\ndefault bias=yes\ndefault conv bias=no\nconv3-4\nfc-2") == [0, 2]
    assert biases("input 4x4x3\ndefault conv bias=yes\nconv3-4\nfc-2", bias=False) == [4, 0]
    assert biases("input 4x4x3\ndefault conv bias=no\ndefault bias=yes\nconv3-4\nfc-2") == [4, 2]
    assert biases("input 4x4x3\ndefault conv bias=no\nconv3-4\ndefault bias=yes\nconv3-4\nfc-2") == [0, 4, 2]


def test_default_stride_does_not_override_the_stride_in_the_name() -> None:
    # `/S` is written on the line, so it wins over a default (as `stride=` does); the
    # default still reaches layers written without a stride. 8x8, pad 1: /1 keeps 8,
    # stride 2 gives floor((8 + 2 - 3) / 2) + 1 = 4; maxpool3/1 on 4x4 gives 2x2.
    shapes = [row.output_shape for row in analyse(
        "input 8x8x3\ndefault stride=2\nconv3-4/1\nconv3-4\nmaxpool3/1\nconv3-4/1 stride=2"
    ).rows[1:]]
    assert shapes == [(8, 8, 4), (4, 4, 4), (2, 2, 4), (1, 1, 4)]


def test_parse_tree() -> None:
    spec = parse("input 8x8x3\ndefine b n:\n  conv3-{n}\nx: conv3-4 x2\nadd:\n  branch: identity\n  branch: relu\n")
    define, layer, block = spec.statements[1:]
    assert isinstance(define, DefineStatement) and define.params == [("n", None)]
    assert isinstance(layer, LayerStatement) and (layer.label, layer.text, layer.count) == ("x", "conv3-4", "2")
    assert isinstance(block, BlockStatement) and block.kind == "add" and len(block.body) == 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("input 8x8x3\n\tconv3-4", 2, "indent with spaces only (found a tab or other whitespace)"),
        ("input 8x8x3\nconv3-4\n  conv3-4", 3, "unexpected indentation (only a block header ending in ':' opens a body)"),
        ("input 8x8x3\ng:\n    conv3-4\n  conv3-4", 4, "indentation does not match any enclosing block"),
        ("input 8x8x3\ng:\nconv3-4", 2, "group 'g:' has an empty body"),
        ("input 8x8x3\nrepeat 2:", 2, "'repeat 2:' has an empty body"),
        ("input 8x8x3\nresidual:\n# nothing\nrelu", 2, "'residual:' has an empty body"),
        ("input 8x8x3\nadd:\n  branch: relu", 2, "'add:' needs at least two 'branch:' blocks"),
        ("input 8x8x3\nadd:\n  relu\n  relu", 3, "only 'branch:' blocks may stand inside 'add:'"),
        ("input 8x8x3\nbranch: relu", 2, "'branch:' belongs directly inside 'add:' or 'concat:'"),
        ("input 8x8x3\ng:\n  define b:\n    relu", 3, "define blocks at the top level only"),
        ("input 8x8x3\na: b: relu", 2, "two labels on one line: 'a' and 'b'"),
        ("input 8x8x3\nx: input 3", 2, "a label cannot name 'input'"),
        ("input 8x8x3\ndefine b n=1 m:\n  relu", 2, "parameter 'm' without a default follows one with a default"),
        ("input 8x8x3\ndefine b n n:\n  relu", 2, "parameter 'n' appears twice"),
        ("input 8x8x3\ndefine b: relu", 2, "define b: the body goes on the following, indented lines"),
        ("input 8x8x3\nrepeat 2: g:", 2, "'repeat 2:' with an inline body cannot open another block on the same line"),
        ("input 8x8x3\nrelu\ninput 4", 3, "'input' must be the first statement of the spec"),
        ("conv3-8\ninput 8x8x3", 2, "'input' must be the first statement of the spec (line 1, 'conv3-8', comes before it)"),
        # a MyST option line kept as content (after a comment): the message names it
        ("# net\n:columns: name\ninput 8x8x3", 3, "'input' must be the first statement of the spec (line 2, ':columns: name', comes before it)"),
        ("default bias=no\ninput 8x8x3", 2, "'input' must be the first statement of the spec (line 1 comes before it)"),
        ("relu", 1, "no input shape: start the spec with 'input HxWxC' (or give :input: / --input)"),
        ("input 8x8x8x8x8", 1, "input '8x8x8x8x8': write HxWxC (224x224x3), LxC (8000x1), DxHxWxC or N (784)"),
        ("input 8x0x3", 1, "input: the input size must be at least 1, not 0"),
        ("# only a comment", 1, "the spec is empty: give at least an input and one layer"),
        ("input 8x8x3\ndefault maybe bias=no", 2, "default: unknown layer family 'maybe' (one of all, conv, fc, pool, norm, activation)"),
        ("input 8x8x3\ndefault conv bias", 2, "default: 'bias' is not key=value"),
        ("input 8x8x3\ndefault colour=red", 2, "default: unknown keyword 'colour'"),
        ("input 8x8x3\ndefine b:\n  relu\ndefine B:\n  relu", 4, "block 'b' is defined twice"),
        ("input 8x8x3\ndefine b n:\n  conv1-{n}\nb", 4, "b: missing value for 'n'"),
        ("input 8x8x3\ndefine b n:\n  conv1-{n}\nb 1 2", 4, "b: takes at most 1 value, got 2"),
        ("input 8x8x3\ndefine b n:\n  conv1-{n}\nb m=2", 4, "b: unknown parameter 'm' (has: n)"),
        ("input 8x8x3\ndefine b n:\n  conv1-{n}\nb n=2 3", 4, "b: positional value '3' after a name=value"),
        ("input 8x8x3\ndefine b n:\n  conv1-{n/3}\nb 4", 4, "b 4: 4/3 is not an integer in {n/3} (in define b, line 3)"),
        ("input 8x8x3\nconv1-{k}", 2, "unknown name 'k' in {k}"),
        ("input 8x8x3\nconv1-{4", 2, "unbalanced braces in 'conv1-{4'"),
        ("input 8x8x3\nrepeat two:\n  relu", 2, "bad number 'two' for the repeat count"),
        ("input 8x8x3\nrelu x0", 2, "the repeat count must be at least 1, not 0"),
    ],
)
def test_spec_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert (info.value.line, info.value.message) == (line, message)


def test_regression_dedent_below_an_indented_first_line() -> None:
    # found by the fuzzer: the root's indent popped off the stack -> IndexError
    with pytest.raises(SpecError) as info:
        analyse("  input 8x8x3\nrelu")
    assert (info.value.line, info.value.message) == (2, "indentation does not match any enclosing block")


def test_placeholder_names_are_case_insensitive_like_parameter_names() -> None:
    breakdown = analyse("define blk Mid:\n  conv1-{Mid}\ninput 8x8x3\nblk 4")
    # conv1 from 3 to 4 channels: 1*1*3*4 weights + 4 biases
    assert breakdown.totals.params == 16


def test_times_sign_repeat_needs_no_space() -> None:
    breakdown = analyse("input 8x8x3\nconv3-4×2")
    # (3*3*3)*4 + 4 = 112, then (3*3*4)*4 + 4 = 148
    assert [row.params for row in breakdown.leaves()] == [0, 112, 148]


def test_a_malformed_label_is_named_as_such() -> None:
    with pytest.raises(SpecError) as info:
        analyse("input 8x8x3\nc1<x>: conv3-4")
    assert info.value.line == 2
    assert info.value.message.startswith("'c1<x>' is not a label")


def test_a_default_ends_with_its_block() -> None:
    def biases(text: str) -> list[int]:
        return [row.biases for row in analyse(text).leaves() if row.kind == "layer"]

    # conv3-4 has 4 biases, fc-2 has 2, unless bias=no is in force
    assert biases("input 4x4x3\ng:\n  default bias=no\n  conv3-4\nconv3-4\nfc-2") == [0, 4, 2]
    assert biases("define blk:\n  default bias=no\n  conv3-4\ninput 4x4x3\nblk\nconv3-4\nblk\nconv3-4") == [0, 4, 0, 4]
    assert biases("input 4x4x3\ndefault bias=no\ng:\n  default bias=yes\n  conv3-4\nconv3-4") == [4, 0]
    # each pass through a repeat starts from the defaults before it
    assert biases("input 4x4x3\nrepeat 2:\n  conv3-4\n  default bias=no\n  conv3-4\nconv3-4") == [4, 0, 4, 0, 4]


def test_only_dropout_and_lrn_take_their_keywords() -> None:
    with pytest.raises(SpecError, match="relu: unknown keyword 'p'"):
        analyse("input 8x8x3\nrelu p=0.3")
    with pytest.raises(SpecError, match="lrn needs an HxWxC input"):
        analyse("input 784\nlrn size=3")
    assert analyse("input 8x8x3\ndropout p=0.5\nlrn size=3").totals.activations == 3 * 8 * 8 * 3


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x1c"])
def test_regression_line_numbers_count_only_real_line_breaks(separator: str) -> None:
    # str.splitlines() breaks at U+2028 and friends, which editors do not: errors came a line late
    with pytest.raises(SpecError) as info:
        analyse(f"input 8x8x3\nrelu {separator}\nbogus\n")
    assert info.value.line == 3 and info.value.message == "unknown layer 'bogus'"


def test_line_breaks_an_editor_counts() -> None:
    for text in ("input 8x8x3\r\nrelu\r\nbogus", "input 8x8x3\rrelu\rbogus", "input 8x8x3\nrelu\nbogus\n"):
        with pytest.raises(SpecError) as info:
            analyse(text)
        assert info.value.line == 3
