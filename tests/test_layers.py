"""Each layer form against the PyTorch / TensorFlow output-size formulas, derived by
hand here (not taken from the engine), and the layer errors with their messages."""

from __future__ import annotations

import itertools
import math

import pytest

from sphinx_cnntable.engine import Row, analyse
from sphinx_cnntable.errors import SpecError


def last(text: str) -> Row:
    return [row for row in analyse(text).rows if row.kind == "layer"][-1]


def torch_conv(n: int, k: int, s: int, p: int, d: int = 1) -> int:
    """torch.nn.Conv2d: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    return math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1


def torch_deconv(n: int, k: int, s: int, p: int, d: int = 1, outpad: int = 0) -> int:
    """torch.nn.ConvTranspose2d: (n-1)s - 2p + d(k-1) + outpad + 1."""
    return (n - 1) * s - 2 * p + d * (k - 1) + outpad + 1


def torch_pool(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """torch.nn.MaxPool2d: floor or ceil of (n + 2p - k)/s, plus 1; in ceil mode the
    last window must start inside the input or the left padding."""
    rounding = math.ceil if ceil else math.floor
    out = rounding((n + 2 * p - k) / s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


SIZES = (1, 2, 5, 7, 13, 14, 224, 225)


@pytest.mark.parametrize(("n", "k", "s", "d"), list(itertools.product(SIZES, (1, 2, 3, 5), (1, 2, 3), (1, 2))))
def test_conv_default_padding_and_explicit(n: int, k: int, s: int, d: int) -> None:
    pad = d * (k - 1) // 2  # the documented default: floor(d*(k-1)/2)
    for p, option in ((pad, ""), (0, " pad=valid"), (1, " pad=1")):
        expected = torch_conv(n, k, s, p, d)
        text = f"input {n}x{n}x4\nconv{k}-8/{s} dilation={d}{option}"
        if expected < 1:
            with pytest.raises(SpecError):
                analyse(text)
            continue
        row = last(text)
        assert row.output_shape == (expected, expected, 8)
        assert row.weights == k * k * 4 * 8
        assert row.macs == k * k * 4 * 8 * expected * expected


@pytest.mark.parametrize(("n", "s"), list(itertools.product(SIZES, (1, 2, 3, 4))))
def test_conv_tf_same(n: int, s: int) -> None:
    assert last(f"input {n}x{n}x3\nconv3-4 stride={s} pad=same").output_shape == (-(-n // s), -(-n // s), 4)
    assert last(f"input {n}x{n}x3\nmaxpool3/{s} pad=same").output_shape == (-(-n // s), -(-n // s), 3)


def test_conv_rectangular_kernel_pad_and_stride() -> None:
    row = last("input 17x17x768\nconv1x7-128 pad=0x3")
    assert row.output_shape == (torch_conv(17, 1, 1, 0), torch_conv(17, 7, 1, 3), 128)
    assert row.weights == 1 * 7 * 768 * 128
    row = last("input 20x30x3\nconv3-8 stride=2x3 pad=1x0")
    assert row.output_shape == (torch_conv(20, 3, 2, 1), torch_conv(30, 3, 3, 0), 8)


def test_groups_and_depthwise() -> None:
    row = last("input 8x8x64\nconv3-128 groups=4 bias=no")
    assert row.weights == 3 * 3 * (64 // 4) * 128 and row.biases == 0
    row = last("input 8x8x32\ndwconv3/2")
    assert row.output_shape == (4, 4, 32)
    assert (row.weights, row.biases, row.macs) == (3 * 3 * 32, 32, 3 * 3 * 32 * 4 * 4)
    row = last("input 8x8x32\ndwconv5 mult=2")
    assert row.output_shape == (8, 8, 64) and row.weights == 5 * 5 * 64


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "op"),
    [(14, 4, 2, 1, 0), (14, 3, 2, 1, 1), (7, 3, 2, 0, 0), (1, 2, 2, 0, 0), (5, 5, 3, 2, 2), (8, 1, 1, 0, 0)],
)
def test_transposed_conv(n: int, k: int, s: int, p: int, op: int) -> None:
    for head in ("deconv", "convt", "upconv"):
        row = last(f"input {n}x{n}x16\n{head}{k}-8/{s} pad={p} outpad={op}")
        out = torch_deconv(n, k, s, p, outpad=op)
        assert row.output_shape == (out, out, 8)
        assert row.weights == 16 * 8 * k * k  # ConvTranspose2d weight: Cin x Cout x k x k
        assert row.macs == 16 * 8 * k * k * n * n


def test_deconv_default_padding_doubles() -> None:
    assert last("input 14x14x512\ndeconv4-256/2").output_shape == (28, 28, 256)


@pytest.mark.parametrize(("n", "k", "s", "p"), list(itertools.product((1, 2, 5, 6, 7, 13, 14, 55, 112), (2, 3), (1, 2, 3), (0, 1))))
def test_pooling_floor_and_ceil(n: int, k: int, s: int, p: int) -> None:
    for ceil in (False, True):
        expected = torch_pool(n, k, s, p, ceil)
        text = f"input {n}x{n}x3\nmaxpool{k}/{s} pad={p} ceil={'yes' if ceil else 'no'}"
        if expected < 1:
            with pytest.raises(SpecError):
                analyse(text)
        else:
            assert last(text).output_shape == (expected, expected, 3), text


def test_pool_ceil_last_window_rule() -> None:
    # 6 + 2 - 3 = 5, ceil(5/2) + 1 = 4, but window 4 would start at 6 >= 6 + 1? no: kept
    assert last("input 6x6x1\nmaxpool3/2 pad=1 ceil=yes").output_shape == (4, 4, 1)
    # 5 + 2 - 2 = 5, ceil(5/2) + 1 = 4; window 4 starts at 6 >= 5 + 1: dropped
    assert last("input 5x5x1\nmaxpool2/2 pad=1 ceil=yes").output_shape == (3, 3, 1)
    # GoogLeNet: 112 -> 56 with 3/2 ceil_mode
    assert last("input 112x112x64\nmaxpool3/2 ceil=yes").output_shape == (56, 56, 64)


def test_pool_forms_and_defaults() -> None:
    assert last("input 224x224x3\npool2").output_shape == (112, 112, 3)
    assert last("input 224x224x3\nmaxpool").output_shape == (112, 112, 3)
    assert last("input 9x9x3\navgpool3/1").output_shape == (7, 7, 3)
    assert last("input 9x9x3\nmaxpool3 stride=2").output_shape == (4, 4, 3)
    for head in ("gap", "gmp", "globalavgpool"):
        row = last(f"input 7x5x512\n{head}")
        assert row.output_shape == (1, 1, 512) and row.params == 0


def test_fc_flattens_and_bn() -> None:
    row = last("input 7x7x512\nfc-4096")
    assert (row.output_shape, row.weights, row.biases, row.macs) == ((4096,), 7 * 7 * 512 * 4096, 4096, 7 * 7 * 512 * 4096)
    for spelling in ("fc 10", "linear-10", "dense 10", "FC-10 bias=no"):
        row = last(f"input 784\n{spelling}")
        assert row.output_shape == (10,) and row.weights == 7840
    row = last("input 4x4x32\nbn")
    assert (row.weights, row.biases, row.non_trainable, row.output_shape) == (32, 32, 64, (4, 4, 32))
    assert last("input 4x4x32\nflatten").output_shape == (512,)
    assert last("input 100\nbn").non_trainable == 200


@pytest.mark.parametrize(
    "head",
    ["relu", "relu6", "sigmoid", "tanh", "softmax", "dropout", "dropout p=0.5", "lrn size=5", "identity", "gelu", "silu", "swish", "hswish"],
)
def test_parameter_free_layers(head: str) -> None:
    row = last(f"input 5x5x7\n{head}")
    assert row.output_shape == (5, 5, 7) and row.params == 0 and row.macs == 0


def test_receptive_field_steps() -> None:
    row = last("input 32x32x3\nconv3-8 dilation=2\nconv3-8/2\nconv3-8")
    # rf 1 -> 5 (dilated 3 = span 5) -> 7 (jump 1) -> jump 2 -> 11
    assert row.rf == 11 and row.jump == (2, 2)
    assert last("input 7x7x512\nfc-10").rf == 7
    # flatten keeps the whole map for the fc after it (regression: the fc reported the
    # conv's 3): conv3 gives rf 3, jump 1; the fc's 8x8 kernel adds (8 - 1) * 1 = 10
    assert last("input 8x8x3\nconv3-4\nfc-10").rf == 10
    assert last("input 8x8x3\nconv3-4\nflatten\nfc-10").rf == 10
    # LeNet: pool2 has rf 16 and jump 4 on a 5x5 map: 16 + (5 - 1) * 4 = 32, the whole input
    lenet = "input 32x32x1\nconv5-6 pad=0\nmaxpool2\nconv5-16 pad=0\nmaxpool2\nflatten\nfc-120"
    assert last(lenet).rf == 32 and last(lenet + "\nfc-84").rf == 32


@pytest.mark.parametrize(("n", "k", "s", "p"), list(itertools.product((7, 16, 80), (1, 3, 4), (1, 2, 3), (0, 1))))
def test_one_dimensional_forms(n: int, k: int, s: int, p: int) -> None:
    """LxC: Conv1d, MaxPool1d and ConvTranspose1d sizes; weights k*Cin*F."""
    row = last(f"input {n}x2\nconv{k}-8/{s} pad={p}")
    out = torch_conv(n, k, s, p)
    assert row.output_shape == (out, 8) and row.weights == k * 2 * 8 and row.macs == k * 2 * 8 * out
    assert row.receptive_field == (k,) and row.jump == (s,)
    if p <= k // 2 and torch_pool(n, k, s, p, False) >= 1:
        assert last(f"input {n}x2\nmaxpool{k}/{s} pad={p}").output_shape == (torch_pool(n, k, s, p, False), 2)
    row = last(f"input {n}x2\ndeconv{k}-8/{s} pad={p}") if torch_deconv(n, k, s, p) >= 1 else None
    if row is not None:
        assert row.output_shape == (torch_deconv(n, k, s, p), 8) and row.macs == 2 * 8 * k * n
    assert last(f"input {n}x2\ngap").output_shape == (1, 2)


def test_three_dimensional_forms() -> None:
    """DxHxWxC: kernels, strides and padding per axis (Conv3d, MaxPool3d, ConvTranspose3d)."""
    row = last("input 16x112x112x3\nconv3x3x3-64")
    assert row.output_shape == (16, 112, 112, 64)
    assert row.weights == 3 * 3 * 3 * 3 * 64 and row.macs == row.weights * 16 * 112 * 112
    row = last("input 16x56x56x64\nconv1x3x3-144/1x2x2 pad=0x1x1")
    assert row.output_shape == (16, torch_conv(56, 3, 2, 1), torch_conv(56, 3, 2, 1), 144)
    assert row.weights == 1 * 3 * 3 * 64 * 144
    row = last("input 16x56x56x144\nconv3x1x1-64/2x1x1 pad=1x0x0")
    assert row.output_shape == (torch_conv(16, 3, 2, 1), 56, 56, 64)
    assert last("input 16x112x112x64\nmaxpool1x2x2").output_shape == (16, 56, 56, 64)
    assert last("input 16x112x112x64\nmaxpool2").output_shape == (8, 56, 56, 64)
    row = last("input 4x8x8x16\ndeconv2x4x4-8/2 pad=0x1x1")
    assert row.output_shape == (torch_deconv(4, 2, 2, 0), torch_deconv(8, 4, 2, 1), torch_deconv(8, 4, 2, 1), 8)
    assert row.macs == 16 * 8 * 2 * 4 * 4 * 4 * 8 * 8
    row = last("input 16x112x112x3\nconv3x7x7-8/1x2x2 pad=1x3x3\ngap\nfc-4")
    # rf 3x7x7, jump 1x2x2; gap over 16x56x56 adds (16-1)*1 and (56-1)*2
    assert row.receptive_field == (3 + 15, 7 + 110, 7 + 110) and row.rf == 117
    assert last("input 16x112x112x3\ngap").output_shape == (1, 1, 1, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input 8x8x8x3\nconv1x3-8", "conv1x3-8: the kernel 1x3 has 2 axes but the input has 3 (DxHxW); write one size or 3"),
        ("input 8x3\nmaxpool2x2", "maxpool2x2: the window 2x2 has 2 axes but the input has 1 (L); write one size or 1"),
        ("input 8x8x3\nconv3-8 stride=1x2x2", "conv3-8: the stride 1x2x2 has 3 axes but the input has 2 (HxW); write one size or 2"),
        ("input 8x8x3\nconv3-8 pad=1x1x1x1", "bad size '1x1x1x1' for pad= (write N, HxW or DxHxW)"),
    ],
)
def test_axis_count_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert info.value.line == 2 and info.value.message.endswith(message), info.value.message


def test_transposed_receptive_field_is_the_largest_over_positions() -> None:
    # x -> a[i] = x[4i] -> b[o] = a[o // 2] -> c[q] = b[q] + b[q + 1]: an odd q reads
    # a[(q-1)/2] and a[(q+1)/2], input pixels 2q-2 to 2q+2: 5 (an even q sees 1)
    assert last("input 64x64x1\nconv1-1/4\ndeconv2-1/2 pad=0\nconv2-1 pad=0").rf == 5
    # a[i] = x[2i]; b[o] = a[o // 3]; the pool reads b[2q], b[2q+1]: for q = 1, a[0] and
    # a[1], input pixels 0 to 2: 3 (the textbook recurrence gave 2)
    assert last("input 64x64x1\nconv1-1/2\ndeconv3-1/3 pad=0\nmaxpool2/2").rf == 3
    # b[o] = a[o // 2]; a stride-2 window of 2 from pad 0 reads b[2q], b[2q+1] = a[q] (1);
    # from pad 1 it reads b[2q-1], b[2q] = a[q-1], a[q] (2)
    assert last("input 20x20x1\ndeconv2-1/2 pad=0\nconv2-1/2 pad=0").rf == 1
    assert last("input 20x20x1\ndeconv2-1/2 pad=0\nconv2-1/2 pad=1").rf == 2


def test_an_output_that_sees_no_input_has_no_receptive_field() -> None:
    # b[o] = x[o / 3] for o = 3i, else the bias alone; cropped by 1: c[o] = b[o + 1];
    # the stride-3 conv reads c[3q] = b[3q + 1]: never an input pixel (PyTorch's input
    # gradient of every output is 0)
    row = list(analyse("input 8x8x1\ndeconv1-1/3 pad=1\nconv1-1/3").leaves())[-1]
    assert row.receptive_field == (0, 0)
    # rows see one pixel each, columns none (b[o] = x[o / 2], the conv reads b[2q - 1]):
    # a unit sees rows x columns, nothing at all
    row = list(analyse("input 4x4x1\ndeconv1-1/2\nconv1-1 bias=no\nconv1-1/2 pad=0x1 bias=no").leaves())[-1]
    assert row.receptive_field == (0, 0)


def test_huge_dimensions_stay_exact() -> None:
    row = last("input 1000000x1000000x3\nconv3-64")
    assert row.output_shape == (1_000_000, 1_000_000, 64)
    assert row.macs == 3 * 3 * 3 * 64 * 10**12
    assert row.activations == 64 * 10**12
    assert isinstance(row.macs, int)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input 8x8x3\nconv3-64\nfoo3-64", "unknown layer 'foo3-64'"),
        ("input 8x8x3\nconv3-64\nconv3-64 strid=2",
         "conv3-64: unknown keyword 'strid', did you mean 'stride'? (allowed: bias, dilation, groups, pad, stride)"),
        ("input 8x8x3\nconv3-64\nmaxpoool2", "unknown layer 'maxpoool2', did you mean 'maxpool'?"),
        ("input 8x8x3\nconv3-64\nconv3-64x2", "bad number '64x2' for the filters (to repeat the layer, write 'conv3-64 x2')"),
        ("input 8x8x3\nconv3-64\nconv3-6x4", "bad number '6x4' for the filters (to repeat the layer, write 'conv3-6 x4')"),
        ("input 8x8x3\nconv3-64\nconv3-64 stride=0", "stride= must be at least 1, not 0"),
        ("input 8x8x3\nconv3-64\nconv3-64 bias=maybe", "conv3-64: bias= takes yes or no, not 'maybe'"),
        ("input 8x8x3\nconv3-64\ndropout p=1.5", "dropout: p= takes a probability between 0 and 1, not '1.5'"),
        ("input 8x8x3\nconv3-64\nconv3-64 stride=2 stride=2", "conv3-64: keyword 'stride' given twice"),
        ("input 8x8x3\nconv3-64\nfc-10 10", "fc-10: give the width once (fc-4096 or fc 4096)"),
        ("input 8x8x3\nconv3-64\nrelu 5", "relu: unexpected '5'"),
        ("input 8x8x3\nconv3-64\nmaxpool3 pad=2", "maxpool3: pad= must be at most half the window 3x3"),
        ("input 8x8x3\nconv3-64\ndeconv3-8/2 pad=same", "deconv3-8/2: pad=same is not defined for a transposed convolution; give pad=N and outpad=N"),
        ("input 8x8x3\nconv3-64\ndeconv3-8/2 outpad=2", "outpad must be smaller than the stride or the dilation"),
        ("input 1x1x3\nconv1-4\ndeconv3-8 pad=2", "deconv3-8: the output would be empty (-1x-1); reduce pad="),
        ("input 8x8x3\nconv3-64\nconv3-30 groups=4", "conv3-30: channels not divisible by groups=4 (input 64, output 30)"),
        ("input 10\nfc-5\nconv3-8", "conv3-8 needs an HxWxC input, got a vector of 5"),
        ("input 2x2x512\nmaxpool\nconv3-512 pad=0", "conv3-512: kernel 3x3 is larger than the padded input 1x1"),
        ("input 4x4x3\nconv1-4\nconv3-8 dilation=3 pad=0", "conv3-8: dilated kernel 7x7 is larger than the padded input 4x4"),
    ],
)
def test_layer_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert info.value.line == 3
    assert info.value.message.endswith(message), info.value.message
    assert str(info.value) == f"line 3: {info.value.message}"


def test_regression_convt_alias_is_a_transposed_conv() -> None:
    # `convt4-16/2` used to match the plain conv pattern and fail with "bad number 't4'"
    assert last("input 8x8x3\nconvt4-16/2").output_shape == (16, 16, 16)


def test_regression_ceil_mode_window_larger_than_input() -> None:
    # PyTorch: MaxPool2d(3, 3, ceil_mode=True) on 1x1 gives 1x1 (ceil(-2/3) + 1 = 1);
    # the engine used to refuse it as "kernel larger than the padded input"
    assert last("input 1x1x3\nmaxpool3/3 ceil=yes").output_shape == (1, 1, 3)
    with pytest.raises(SpecError, match="kernel 3x3 is larger than the padded input 1x1"):
        analyse("input 1x1x3\nmaxpool3/3")


def test_normalisations_without_running_statistics() -> None:
    """PyTorch: LayerNorm(C) and GroupNorm(G, C) have weight and bias of C each and no
    buffers; InstanceNorm2d(C) has none unless affine=True; a layer scale is C factors."""
    for text, weights, biases in (
        ("layernorm", 64, 64), ("ln", 64, 64), ("groupnorm groups=32", 64, 64), ("gn groups=8 affine=no", 0, 0),
        ("instancenorm", 0, 0), ("instancenorm affine=yes", 64, 64), ("layerscale", 64, 0),
    ):
        row = last(f"input 7x7x64\n{text}")
        assert (row.output_shape, row.weights, row.biases, row.non_trainable, row.macs) == ((7, 7, 64), weights, biases, 0, 0)
    assert last("input 197x768\nlayernorm").trainable == 2 * 768  # over the token dimension
    for text in ("droppath p=0.1", "stochasticdepth", "shuffle groups=4", "channelshuffle"):
        row = last(f"input 7x7x64\n{text}")
        assert (row.output_shape, row.params, row.macs) == ((7, 7, 64), 0, 0)


def test_scale_block_is_squeeze_and_excitation() -> None:
    """EfficientNet's SE on 96 channels squeezed to 24: fc1 96*24+24, fc2 24*96+96; the
    1x1 convolutions run on a 1x1 map (MACs = weights), the multiply counts 0."""
    b = analyse("input 56x56x96\nscale:\n  gap\n  conv1-24\n  silu\n  conv1-96\n  sigmoid\n")
    merge = [row for row in b.rows if row.kind == "merge"][0]
    assert merge.name == "multiply" and merge.output_shape == (56, 56, 96) and merge.macs == 0
    assert b.totals.trainable_params == 96 * 24 + 24 + 24 * 96 + 96
    assert b.totals.macs == 96 * 24 + 24 * 96
    assert merge.activations == 56 * 56 * 96
    fc = analyse("input 8x8x16\nscale:\n  gap\n  fc-4\n  relu\n  fc-16\n  sigmoid\n")
    assert fc.output_shape == (8, 8, 16)


def test_split_block_keeps_half_aside() -> None:
    """ShuffleNetV2: x1, x2 = x.chunk(2, dim=1) (chunk sizes ceil(C/2), floor(C/2)); out = cat(x1, f(x2))."""
    b = analyse("input 28x28x116\nsplit:\n  conv1-58 bias=no\n")
    assert b.rows[2].output_shape == (28, 28, 58) and b.rows[2].weights == 58 * 58
    assert b.output_shape == (28, 28, 116)
    assert analyse("input 8x8x5\nsplit:\n  conv1-7\n").output_shape == (8, 8, 3 + 7)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input 8x8x16\nscale:\n  conv1-16", "scale: the body must end in 1x1x16 (one value per channel of the input 8x8x16), not 8x8x16"),
        ("input 8x8x16\nscale:\n  gap\n  conv1-8", "scale: the body must end in 1x1x16 (one value per channel of the input 8x8x16), not 1x1x8"),
        ("input 8x8x16\nsplit:\n  conv1-8/2", "split: the body changes the size from 8x8 to 4x4"),
        ("input 8x8x1\nsplit:\n  relu", "split: needs a feature map of at least 2 channels to split, not 8x8x1"),
        ("input 8x8x30\ngroupnorm groups=4", "groupnorm: 30 channels do not split into groups=4"),
        ("input 8x8x30\ngroupnorm", "groupnorm: give the number of groups, as in groupnorm groups=32"),
        ("input 1x1x30\ninstancenorm", "instancenorm: needs more than one position per channel, not 1x1 (as PyTorch)"),
        ("input 8x8x30\nshuffle groups=4", "shuffle: 30 channels do not split into groups=4"),
    ],
)
def test_new_block_and_norm_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert info.value.line == 2 and info.value.message == message, info.value.message
