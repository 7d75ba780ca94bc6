"""Token sequences and attention: each form against figures derived by hand here from
PyTorch's modules (nn.Conv2d + flatten, nn.MultiheadAttention, nn.Linear on the last
axis, nn.LayerNorm, torchvision's ShiftedWindowAttention and PatchMerging), and the
errors with their lines."""

from __future__ import annotations

import itertools
import math

import pytest

from sphinx_cnntable.engine import Row, analyse
from sphinx_cnntable.errors import SpecError


def last(text: str) -> Row:
    return [row for row in analyse(text).rows if row.kind == "layer"][-1]


@pytest.mark.parametrize(("n", "k"), list(itertools.product((4, 15, 16, 224), (2, 4, 16))))
def test_patch_embedding(n: int, k: int) -> None:
    side = (n - k) // k + 1  # Conv2d(kernel k, stride k, padding 0)
    if side < 1:
        with pytest.raises(SpecError):
            analyse(f"input {n}x{n}x3\npatch{k}-8")
        return
    row = last(f"input {n}x{n}x3\npatch{k}-8")
    assert row.output_shape == (side * side, 8)
    assert (row.weights, row.biases, row.macs) == (k * k * 3 * 8, 8, k * k * 3 * 8 * side * side)
    assert row.receptive_field == (k, k)
    assert last(f"input {n}x{n}x3\npatch{k}-8 bias=no").biases == 0


def test_patch_embedding_equals_conv_then_tokens() -> None:
    patch = analyse("input 32x24x3\npatch8x4-16").totals
    conv = analyse("input 32x24x3\nconv8x4-16/8x4 pad=0\ntokens").totals
    assert (patch.params, patch.weights, patch.biases, patch.macs) == (conv.params, conv.weights, conv.biases, conv.macs)
    assert last("input 32x24x3\nconv8x4-16/8x4 pad=0\ntokens").output_shape == (4 * 6, 16)


def test_class_token_position_embedding_and_selection() -> None:
    b = analyse("input 196x768\nclstoken\nposembed\nselectcls")
    rows = [row for row in b.rows if row.kind == "layer"]
    assert [(row.output_shape, row.weights, row.biases, row.macs) for row in rows] == [
        ((197, 768), 768, 0, 0), ((197, 768), 197 * 768, 0, 0), ((768,), 0, 0, 0)]
    assert last("input 7x5x4\nposembed").weights == 7 * 5 * 4


@pytest.mark.parametrize(("n", "c", "heads"), [(197, 768, 12), (1, 8, 1), (50, 64, 4), (10, 6, 3)])
def test_global_attention(n: int, c: int, heads: int) -> None:
    # nn.MultiheadAttention: in_proj 3C x C + 3C, out_proj C x C + C; MACs: q, k, v and
    # out projections per token, then Q K^T (N x N x C) and the weighted sum (N x N x C).
    row = last(f"input {n}x{c}\nattention heads={heads}")
    assert row.output_shape == (n, c)
    assert (row.weights, row.biases) == (4 * c * c, 4 * c)
    assert row.macs == n * 3 * c * c + n * c * c + n * n * c + n * n * c
    plain = last(f"input {n}x{c}\nmhsa heads={heads} bias=no")
    assert (plain.weights, plain.biases, plain.macs) == (4 * c * c, 0, row.macs)


def test_attention_on_a_map_attends_over_every_position() -> None:
    row = last("input 6x5x8\nselfattention heads=2")
    assert row.output_shape == (6, 5, 8)
    assert row.macs == 30 * 4 * 64 + 2 * 30 * 30 * 8
    assert row.receptive_field == (6, 5)


@pytest.mark.parametrize(("h", "w", "window", "heads"), [(56, 56, 7, 3), (7, 7, 7, 24), (15, 13, 4, 2), (4, 4, 7, 1),
                                                           (9, 10, 3, 2)])
def test_windowed_attention(h: int, w: int, window: int, heads: int) -> None:
    # torchvision's shifted_window_attention pads H and W up to multiples of the window.
    c = 4 * heads
    padded = math.ceil(h / window) * window * math.ceil(w / window) * window
    for shift in ("", f" shift={window // 2}"):
        row = last(f"input {h}x{w}x{c}\nattention heads={heads} window={window}{shift}")
        assert row.output_shape == (h, w, c)
        assert row.weights == 4 * c * c + (2 * window - 1) ** 2 * heads
        assert row.biases == 4 * c
        assert row.macs == padded * 4 * c * c + 2 * padded * window * window * c
        assert row.receptive_field == (min(window, h), min(window, w))


def test_windowed_attention_per_axis() -> None:
    row = last("input 8x9x6\nattention heads=3 window=4x3 shift=2x1")
    assert row.weights == 4 * 36 + 7 * 5 * 3
    assert row.macs == 72 * 4 * 36 + 2 * 72 * 12 * 6


@pytest.mark.parametrize(("shape", "c_out"), [("197x768", 3072), ("7x7x768", 3072), ("3x4x5x6", 2), ("10", 4)])
def test_fc_per_token(shape: str, c_out: int) -> None:
    dims = tuple(int(d) for d in shape.split("x"))
    *positions, c = dims
    row = last(f"input {shape}\nfc-{c_out} per=token")
    assert row.output_shape == (*positions, c_out)
    assert (row.weights, row.biases, row.macs) == (c * c_out, c_out, math.prod(positions) * c * c_out)
    assert last(f"input {shape}\ndefault fc per=token\nlinear {c_out} bias=no").biases == 0


@pytest.mark.parametrize(("h", "w"), [(56, 56), (7, 7), (5, 8), (1, 1)])
def test_patch_merging(h: int, w: int) -> None:
    # torchvision's _patch_merging_pad: pad H and W to even sizes, four strided slices, concatenated
    row = last(f"input {h}x{w}x96\npatchmerge")
    assert row.output_shape == ((h + 1) // 2, (w + 1) // 2, 384)
    assert (row.trainable, row.macs) == (0, 0)
    assert last(f"input 4x{h}x{w}x8 dhwc\npatchmerge1x2x2").output_shape == (4, (h + 1) // 2, (w + 1) // 2, 32)


def test_layernorm() -> None:
    for shape in ("197x768", "56x56x96", "10"):
        row = last(f"input {shape}\nlayernorm")
        c = int(shape.split("x")[-1])
        assert (row.weights, row.biases, row.non_trainable, row.macs) == (c, c, 0, 0)


def test_receptive_field_through_tokens() -> None:
    b = analyse("input 224x224x3\npatch16-768\nclstoken\nfc-768 per=token\nattention heads=12\nselectcls")
    rf = {row.layer: row.receptive_field for row in b.rows if row.kind == "layer"}
    assert rf["patch16-768"] == rf["clstoken"] == rf["fc-768 per=token"] == (16, 16)
    assert rf["attention heads=12"] == rf["selectcls"] == (224, 224)
    # a window sliding along the tokens of a flattened map: the whole input (an upper bound)
    assert last("input 32x32x3\nconv4-8/4 pad=0\ntokens\nconv3-8").receptive_field == (32, 32)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("input 8x8x4\nrelu\nclstoken", 3, "clstoken needs a token sequence (NxC), got 8x8x4; write 'tokens' first"),
    ("input 8x8x4\nfc-4\nselectcls", 3, "selectcls needs a token sequence (NxC), got 4"),
    ("input 8x6\nattention", 2, "attention: give the number of heads, as in attention heads=8"),
    ("input 8x6\nattention heads=4", 2, "attention: 6 channels do not split into heads=4"),
    ("input 8x8x6\nattention heads=2 shift=3", 2, "attention: shift= needs window="),
    ("input 8x8x6\nattention heads=2 window=4 shift=4", 2, "attention: shift=4x4 must be smaller than window=4x4"),
    ("input 8x8x6\nattention heads=2 window=4x4x4", 2, "window= 4x4x4 has 3 axes but the input has 2"),
    ("input 8x8x6\nfc-4 per=channel", 2, "fc-4: per= takes token (or all, the default), not 'channel'"),
    ("input 8x8x6\nfc-4\nposembed", 3, "posembed needs an HxWxC input, got a vector of 4"),
    ("input 8x8x6\npatch16-8", 2, "kernel 16x16 is larger than the padded input 8x8"),
    ("input 8x8x6\nattention heads=2 bias=maybe", 2, "bias= takes yes or no"),
])
def test_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as error:
        analyse(text)
    assert error.value.line == line
    assert message in str(error.value)
