"""Long skips (labels name tensors, ``from NAME``), side outputs (``side:``) and the
layers that resample or reshape a map: ``upsample``, ``pixelshuffle``,
``pixelunshuffle``, ``zeropad``, ``crop``. Expected sizes are PyTorch's formulas,
written out by hand here."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sphinx_cnntable.engine import Row, analyse
from sphinx_cnntable.errors import SpecError


def last(text: str) -> Row:
    return [row for row in analyse(text).rows if row.kind == "layer"][-1]


def error(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        analyse(text)
    return caught.value


# --- upsample -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "s"), list(itertools.product((1, 7, 14, 225), (1, 2, 3))))
def test_upsample_scale(n: int, s: int) -> None:
    # nn.Upsample(scale_factor=s): floor(n * s)
    for text in (f"upsample{s}", f"upsample scale={s}", f"upsampling{s} mode=bilinear"):
        row = last(f"input {n}x{n}x5\n{text}")
        assert row.output_shape == (n * s, n * s, 5)
        assert (row.params, row.macs) == (0, 0)


def test_upsample_forms() -> None:
    assert last("input 7x9x4\nupsample").output_shape == (14, 18, 4)  # scale 2 by default
    assert last("input 7x9x4\nupsample scale=2x3").output_shape == (14, 27, 4)
    assert last("input 7x9x4\nupsample size=20x5 mode=bicubic").output_shape == (20, 5, 4)
    assert last("input 100x4\nupsample4 mode=linear").output_shape == (400, 4)
    assert last("input 2x3x4x5\nupsample2 mode=trilinear").output_shape == (4, 6, 8, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input 8x8x3\nupsample2 scale=2", "give the scale once"),
        ("input 8x8x3\nupsample scale=2 size=4", "not both"),
        ("input 8x8x3\nupsample mode=cubic", "mode= is one of"),
        ("input 8x8x3\nupsample mode=trilinear", "needs a DxHxW input"),
        ("input 8x3\nupsample mode=bilinear", "needs a HxW input"),
        ("input 8x8x3\nupsample size=4x4x4", "has 3 axes but the input has 2"),
        ("input 10\nupsample", "needs an HxWxC input"),
    ],
)
def test_upsample_errors(text: str, message: str) -> None:
    caught = error(text)
    assert caught.line == 2 and message in caught.message


# --- pixel shuffle --------------------------------------------------------------------


def test_pixelshuffle() -> None:
    # nn.PixelShuffle(r): (C*r*r, H, W) -> (C, H*r, W*r); PixelUnshuffle the inverse
    assert last("input 5x6x18\npixelshuffle3").output_shape == (15, 18, 2)
    assert last("input 10x6x2\npixelunshuffle2").output_shape == (5, 3, 8)
    assert "not divisible by 2*2" in error("input 5x5x6\npixelshuffle2").message
    assert "not divisible by 2" in error("input 5x6x6\npixelunshuffle2").message
    assert "give the factor" in error("input 5x6x6\npixelshuffle").message
    assert "needs an HxWxC input" in error("input 8x4\npixelshuffle2").message


# --- zeropad and crop -------------------------------------------------------------------


def test_zeropad_and_crop() -> None:
    assert last("input 7x9x4\nzeropad1").output_shape == (9, 11, 4)
    assert last("input 7x9x4\nzeropad1x2").output_shape == (9, 13, 4)
    assert last("input 7x9x4\nzeropad before=0 after=1").output_shape == (8, 10, 4)
    assert last("input 7x9x4\nzeropadding after=0x3").output_shape == (7, 12, 4)
    assert last("input 7x9x4\ncrop1").output_shape == (5, 7, 4)
    assert last("input 7x9x4\ncropping before=1x0 after=0x2").output_shape == (6, 7, 4)
    assert last("input 7x9x4\ncrop size=4x9").output_shape == (4, 9, 4)
    assert last("input 16x4\nzeropad2").output_shape == (20, 4)
    row = last("input 7x9x4\nzeropad1")
    assert (row.params, row.macs, row.activations) == (0, 0, 9 * 11 * 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input 7x9x4\nzeropad", "give the margins"),
        ("input 7x9x4\nzeropad1 after=1", "not both"),
        ("input 7x9x4\ncrop4", "leaves nothing"),
        ("input 7x9x4\ncrop size=8x8", "larger than the input"),
        ("input 7x9x4\ncrop1 size=3", "not both"),
        ("input 7x9x4\nzeropad before=1x1x1", "has 3 axes but the input has 2"),
    ],
)
def test_margin_errors(text: str, message: str) -> None:
    caught = error(text)
    assert caught.line == 2 and message in caught.message


# --- named tensors ----------------------------------------------------------------------


UNET_LIKE = """\
input 32x32x3
enc1: conv3-8
maxpool2
conv3-16
upsample2
concat:
  branch: from enc1
  branch: identity
conv1-2
"""


def test_from_joins_a_named_tensor() -> None:
    b = analyse(UNET_LIKE)
    merge = [row for row in b.rows if row.kind == "merge"][0]
    assert merge.output_shape == (32, 32, 8 + 16)
    assert b.output_shape == (32, 32, 2)
    # 'from' adds no row: the concat group holds the identity and the merge
    assert [row.layer for row in b.leaves()][-4:] == ["upsample2", "identity", "concat", "conv1-2"]


def test_from_restores_shape_and_receptive_field() -> None:
    b = analyse("input 32x32x3\nstem: conv3-8\nconv3-8/2\nconv3-8\nfrom stem\nrelu")
    row = [row for row in b.leaves()][-1]
    assert row.output_shape == (32, 32, 8)
    assert row.receptive_field == (3, 3)
    assert analyse("input 32x32x3\nconv3-8\nfrom input\nrelu").output_shape == (32, 32, 3)


def test_names_are_labels_and_paths_the_latest_wins() -> None:
    text = """\
input 16x16x3
define block w:
  out: conv3-{w}
  relu
a: block 4
b: block 6
from a.out
x: conv1-5
x: conv1-7
from x
relu
"""
    b = analyse(text)
    assert b.output_shape == (16, 16, 7)
    assert analyse(text.replace("from x", "from out")).output_shape == (16, 16, 6)  # b's, the later one
    assert analyse(text.replace("from x", "from a")).output_shape == (16, 16, 4)
    assert analyse(text.replace("from x", "from b.out")).output_shape == (16, 16, 6)


def test_names_of_repeated_lines_and_blocks() -> None:
    base = "input 16x16x3\nc: conv3-4 x3\n"
    assert analyse(base + "conv1-9\nfrom c_1\nrelu").output_shape == (16, 16, 4)
    assert analyse(base + "conv1-9\nfrom c\nrelu").output_shape == (16, 16, 4)
    text = "input 16x16x3\nr: repeat 2:\n  conv3-4/2\nfrom r\nrelu"
    assert analyse(text).output_shape == (4, 4, 4)


def test_from_unknown_name_hints() -> None:
    caught = error(UNET_LIKE.replace("from enc1", "from enc2"))
    assert caught.line == 7
    assert "no tensor named 'enc2'" in caught.message and "did you mean 'enc1'" in caught.message
    assert error("input 8x8x3\nfrom a b").message == "from: give one name, as in 'from enc1'"
    assert error("input 8x8x3\na: relu\nfrom a x2").line == 3
    # a name is known only after its line
    assert "no tensor named 'later'" in error("input 8x8x3\nfrom later\nlater: relu").message


def test_skip_shapes_must_fit() -> None:
    caught = error(UNET_LIKE.replace("upsample2\n", ""))
    assert caught.line == 5 and "heights and widths differ" in caught.message


# --- side outputs -----------------------------------------------------------------------


SIDE = """\
input 32x32x3
conv3-8
aux: side:
  gap
  fc-10
conv3-4
"""


def test_side_output_counts_but_does_not_feed_the_main_path() -> None:
    b = analyse(SIDE)
    aux = b.find("aux")[0]
    assert aux.kind == "group" and aux.block == "side"
    assert aux.output_shape == (10,)
    assert aux.trainable == 8 * 10 + 10 and aux.macs == 80
    assert aux.activations == 8 + 10  # the gap's 1x1x8 and the fc's 10
    conv = [row for row in b.leaves()][-1]
    assert conv.trainable == 3 * 3 * 8 * 4 + 4  # fed by the 32x32x8 map, not the side's vector
    assert conv.output_shape == b.output_shape == (32, 32, 4)
    assert b.totals.trainable_params == (3 * 3 * 3 * 8 + 8) + 90 + (3 * 3 * 8 * 4 + 4)
    assert b.totals.activations == sum(row.activations for row in b.leaves())


def test_side_output_last_and_reused() -> None:
    text = "input 32x32x3\nconv3-8\nhead: side: conv1-2\n"
    b = analyse(text)
    assert b.output_shape == (32, 32, 8)  # a side output at the end is not the output
    assert b.rows[-1].output_shape == (32, 32, 2)
    text += "concat:\n  branch: from head\n  branch: identity\n"
    assert analyse(text).output_shape == (32, 32, 10)


def test_side_inline_and_placement() -> None:
    assert analyse("input 8x8x3\nside: conv1-2\nrelu").output_shape == (8, 8, 3)
    caught = error("input 8x8x3\nconcat:\n  side: relu\n  branch: relu")
    assert caught.line == 3 and "only 'branch:' blocks" in caught.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input 8x8x3\nenc1: conv3-8\nfrom enc2", "line 3: from: no tensor named 'enc2' before this line; did you mean 'enc1'?"),
        ("input 8x8x3\nupsample mode=trilinear", "line 2: upsample: mode=trilinear needs a DxHxW input, not HxW"),
        ("input 5x5x6\npixelshuffle2", "line 2: pixelshuffle2: 6 channels are not divisible by 2*2"),
        ("input 7x9x4\ncrop4", "line 2: crop4: cropping 7x9 leaves nothing (-1x1)"),
        ("input 7x9x4\nzeropad", "line 2: zeropad: give the margins, as in zeropad1, zeropad1x2 or zeropad before=0 after=1"),
    ],
)
def test_documented_messages(text: str, message: str) -> None:
    # the rows of the Errors table on docs/spec-language.rst
    assert str(error(text)) == message
    doc = (Path(__file__).resolve().parent.parent / "docs" / "spec-language.rst").read_text(encoding="utf-8")
    assert f"``{message}``" in doc


def test_sizes_and_margins_come_from_the_line_only() -> None:
    # 'default size=3' is lrn's window; it must not resize an upsample or a crop
    text = "input 8x8x4\ndefault size=3 mode=bilinear\nlrn\nupsample2\ncrop1\nzeropad1"
    rows = [row for row in analyse(text).leaves()]
    assert [row.output_shape for row in rows[-3:]] == [(16, 16, 4), (14, 14, 4), (16, 16, 4)]
    assert rows[-3].receptive_field == (2, 2)  # the default mode=bilinear does apply: a window of 2
