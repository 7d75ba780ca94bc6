"""Reference networks against independently published figures.

Every expected number is written out from its source (CS231n's VGG table and its
with-bias answer, torchvision's ``num_params`` and ``_ops``, Keras's ``summary()``,
torchinfo, the PyTorch LeNet tutorial) or is arithmetic on that source's definition,
shown inline. None is copied from the engine's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sphinx_cnntable.engine import Breakdown, Row, analyse
from sphinx_cnntable.errors import SpecError

from checks import check_sums

DATA = Path(__file__).resolve().parent / "data"


def load(name: str, input_shape: str | None = None) -> Breakdown:
    return analyse((DATA / f"{name}.cnn").read_text(encoding="utf-8"), input_shape=input_shape)


def layer_rows(breakdown: Breakdown) -> list[Row]:
    return [row for row in breakdown.rows if row.kind in ("input", "layer")]


# --- VGG-16, CS231n ------------------------------------------------------------

# (output shape, memory = elements of the row's output, weights without biases), CS231n rows
CS231N_ROWS = [
    ((224, 224, 3), 224 * 224 * 3, 0),
    ((224, 224, 64), 224 * 224 * 64, (3 * 3 * 3) * 64),
    ((224, 224, 64), 224 * 224 * 64, (3 * 3 * 64) * 64),
    ((112, 112, 64), 112 * 112 * 64, 0),
    ((112, 112, 128), 112 * 112 * 128, (3 * 3 * 64) * 128),
    ((112, 112, 128), 112 * 112 * 128, (3 * 3 * 128) * 128),
    ((56, 56, 128), 56 * 56 * 128, 0),
    ((56, 56, 256), 56 * 56 * 256, (3 * 3 * 128) * 256),
    ((56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),
    ((56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),
    ((28, 28, 256), 28 * 28 * 256, 0),
    ((28, 28, 512), 28 * 28 * 512, (3 * 3 * 256) * 512),
    ((28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),
    ((28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),
    ((14, 14, 512), 14 * 14 * 512, 0),
    ((14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ((14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ((14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ((7, 7, 512), 7 * 7 * 512, 0),
    ((4096,), 4096, 7 * 7 * 512 * 4096),
    ((4096,), 4096, 4096 * 4096),
    ((1000,), 1000, 4096 * 1000),
]


def test_vgg16_cs231n_rows() -> None:
    rows = layer_rows(load("vgg16_cs231n"))
    assert len(rows) == len(CS231N_ROWS)
    for row, (shape, memory, weights) in zip(rows, CS231N_ROWS):
        assert (row.output_shape, row.activations, row.weights) == (shape, memory, weights), row.name
        assert row.biases == (shape[-1] if weights else 0)
    printed_weights = [1_728, 36_864, 73_728, 147_456, 294_912, 589_824, 589_824,
                       1_179_648, 2_359_296, 2_359_296, 2_359_296, 2_359_296, 2_359_296,
                       102_760_448, 16_777_216, 4_096_000]
    assert [row.weights for row in rows if row.weights] == printed_weights


def test_vgg16_with_bias_counts() -> None:
    rows = [row for row in layer_rows(load("vgg16_cs231n")) if row.params]
    assert [row.params for row in rows] == [
        1_792, 36_928, 73_856, 147_584, 295_168, 590_080, 590_080,
        1_180_160, 2_359_808, 2_359_808, 2_359_808, 2_359_808, 2_359_808,
        102_764_544, 16_781_312, 4_097_000,
    ]


def test_vgg16_totals() -> None:
    breakdown = load("vgg16_cs231n")
    totals = breakdown.totals
    assert totals.params == 138_357_544
    assert totals.trainable_params == 138_357_544
    assert totals.non_trainable_params == 0
    assert totals.weights == 138_344_128
    assert totals.biases == 13_416
    assert totals.activations == 15_237_608
    assert totals.macs == 15_470_264_320
    conv = sum(row.macs for row in breakdown.rows if row.layer.lower().startswith("conv"))
    fc = sum(row.macs for row in breakdown.rows if row.layer.lower().startswith("fc"))
    assert (conv, fc) == (15_346_630_656, 123_633_664)
    check_sums(breakdown)


def test_vgg16_stage_groups() -> None:
    breakdown = load("vgg16_stages")
    groups = {row.name: row for row in breakdown.rows if row.kind == "group"}
    assert [groups[f"conv{i}"].params for i in range(1, 6)] == [38_720, 221_440, 1_475_328, 5_899_776, 7_079_424]
    assert [breakdown.find(f"fc{i}")[0].params for i in (1, 2, 3)] == [102_764_544, 16_781_312, 4_097_000]
    assert groups["conv5"].rf == 196
    pool5 = breakdown.find("pool5")[0]
    assert pool5.rf == 212 and pool5.jump == (32, 32)
    assert breakdown.totals.params == 138_357_544
    check_sums(breakdown)


def test_vgg16_receptive_fields() -> None:
    convs = [row for row in load("vgg16_cs231n").rows if row.layer.lower().startswith("conv")]
    # rf grows by 2*jump per 3x3 conv; jump doubles after each pool
    assert [row.rf for row in convs] == [3, 5, 10, 14, 24, 32, 40, 60, 76, 92, 132, 164, 196]


# --- ResNet, MobileNetV2, LeNet ------------------------------------------------


def test_resnet18_at_224() -> None:
    breakdown = load("resnet18")
    assert breakdown.totals.trainable_params == 11_689_512
    assert breakdown.totals.macs == 1_814_073_344
    assert round(breakdown.totals.macs / 1e9, 3) == 1.814
    check_sums(breakdown)


def test_resnet18_torchinfo_at_64() -> None:
    breakdown = load("resnet18", input_shape="64x64x3")
    groups = {row.path: row for row in breakdown.rows if row.kind == "group" and row.depth == 0}
    assert [groups[f"layer{i}"].trainable for i in range(1, 5)] == [147_968, 525_568, 2_099_712, 8_393_728]
    assert [groups[f"layer{i}"].output_shape for i in range(1, 5)] == [
        (16, 16, 64), (8, 8, 128), (4, 4, 256), (2, 2, 512),
    ]
    blocks = [row.trainable for row in breakdown.rows if row.block == "call"]
    assert blocks == [73_984, 73_984, 230_144, 295_424, 919_040, 1_180_672, 3_673_088, 4_720_640]
    conv1 = breakdown.find("conv1")[0]
    assert (conv1.output_shape, conv1.params) == ((32, 32, 64), 9_408)
    assert breakdown.rows[2].layer == "bn" and breakdown.rows[2].trainable == 128
    assert breakdown.find("fc")[0].params == 513_000
    assert breakdown.totals.trainable_params == 11_689_512
    assert breakdown.totals.macs == 148_557_824
    check_sums(breakdown)


def test_resnet34() -> None:
    breakdown = load("resnet34")
    assert breakdown.totals.trainable_params == 21_797_672
    assert breakdown.totals.macs == 3_663_761_408
    check_sums(breakdown)


def test_mobilenet_v2() -> None:
    breakdown = load("mobilenet_v2")
    totals = breakdown.totals
    assert (totals.params, totals.trainable_params, totals.non_trainable_params) == (3_538_984, 3_504_872, 34_112)
    assert round(totals.macs / 1e9, 3) == 0.301
    check_sums(breakdown)


def test_lenet() -> None:
    breakdown = load("lenet")
    shapes = [row.output_shape for row in breakdown.rows if row.layer not in ("relu", "input", "flatten")]
    assert shapes == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (120,), (84,), (10,)]
    assert breakdown.find("s4")[0].output_shape == (5, 5, 16)
    assert [row.output_shape for row in breakdown.rows if row.layer == "flatten"] == [(400,)]
    assert [row.params for row in breakdown.rows if row.params] == [156, 2_416, 48_120, 10_164, 850]
    assert breakdown.totals.params == 61_706
    assert load("lenet", input_shape="32x32x3").totals.params == 62_006
    check_sums(breakdown)


# --- merges, groups and their sums ---------------------------------------------


def test_concat_and_add_merge_rows() -> None:
    text = (
        "input 8x8x16\n"
        "concat:\n"
        "  branch: conv1-8\n"
        "  branch:\n"
        "    conv1-4\n"
        "    conv3-12\n"
        "  branch: maxpool3/1 pad=1\n"
        "add:\n"
        "  branch: identity\n"
        "  branch: conv1-36\n"
    )
    breakdown = analyse(text)
    merges = [row for row in breakdown.rows if row.kind == "merge"]
    assert [(m.name, m.output_shape, m.activations) for m in merges] == [
        ("concat", (8, 8, 8 + 12 + 16), 8 * 8 * 36),
        ("add", (8, 8, 36), 8 * 8 * 36),
    ]
    assert breakdown.output_shape == (8, 8, 36)
    check_sums(breakdown)


def test_residual_merge_and_group() -> None:
    breakdown = analyse("input 4x4x8\nres: residual:\n  conv3-8\n  bn\nrelu")
    group = breakdown.find("res")[0]
    assert group.kind == "group" and group.block == "residual"
    assert group.params == (3 * 3 * 8 * 8 + 8) + 8 + 8 + 16
    assert [row.kind for row in breakdown.rows] == ["input", "group", "layer", "layer", "merge", "layer"]
    check_sums(breakdown)


def test_nested_groups_sum_their_members() -> None:
    text = "input 16x16x3\nouter:\n  conv3-8\n  inner:\n    repeat 2:\n      conv3-8\n      bn\n  fc-10\n"
    breakdown = analyse(text)
    check_sums(breakdown)
    assert breakdown.find("outer")[0].params == breakdown.totals.params


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("input 8x8x3\nadd:\n  branch: conv1-8\n  branch: conv1-16", 2, "add: the branches' shapes differ: 8x8x8 (line 3), 8x8x16 (line 4)"),
        ("input 8x8x3\nconcat:\n  branch: conv1-8\n  branch: conv1-8/2", 2, "concat: the branches' heights and widths differ"),
        ("input 8x8x3\nresidual:\n  conv1-8", 2, "residual: the body changes the shape from 8x8x3 to 8x8x8"),
        ("input 8x8x3\nadd:\n  branch: fc-3\n  branch: identity", 2, "add: the branches' shapes differ"),
    ],
)
def test_merge_errors(text: str, line: int, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert info.value.line == line
    assert fragment in info.value.message


def test_error_inside_user_block_points_at_the_call() -> None:
    text = "input 4x4x3\ndefine blk n:\n  conv3-{n} pad=0\n  conv3-{n} pad=0\n  conv3-{n} pad=0\nblk 8"
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert info.value.line == 6
    # 4x4 -> 2x2 after the first conv; the second one (line 4 of the define) cannot fit
    assert info.value.message == "blk 8: conv3-8: kernel 3x3 is larger than the padded input 2x2 (in define blk, line 4)"


def test_input_override_and_bias_switch() -> None:
    text = "input 8x8x3\nconv3-4\nfc-2"
    assert analyse(text, input_shape=(16, 16, 1)).rows[1].output_shape == (16, 16, 4)
    assert analyse(text, bias=False).totals.biases == 0
    with pytest.raises(SpecError):
        analyse(text, input_shape=(0, 8, 3))
    with pytest.raises(SpecError):
        analyse(text, input_shape=(8, 8, 8, 8, 8))
    assert analyse(text, input_shape=(8, 8)).rows[1].output_shape == (8, 4)  # LxC: one spatial axis


@pytest.mark.parametrize(
    ("dims", "shape"),
    [
        ("3x224x224 chw", (224, 224, 3)),
        ("1x8000 cl", (8000, 1)),
        ("3x16x112x112 cdhw", (16, 112, 112, 3)),
        ("3x224x224 hwc", (3, 224, 224)),
        ("224x224x3 HWC", (224, 224, 3)),
        ("3x3x512", (3, 3, 512)),  # a small map of many channels, not channels-first
        ("4x8x8x16", (4, 8, 8, 16)),
        ("4x64", (4, 64)),
    ],
)
def test_input_orders(dims: str, shape: tuple[int, ...]) -> None:
    assert analyse(f"input {dims}\nrelu").input_shape == shape


@pytest.mark.parametrize(
    ("dims", "message"),
    [
        ("3x224x224", "input 3x224x224 looks channels-first (PyTorch's CHW): write 224x224x3, or 3x224x224 chw "
                      "to keep PyTorch's order (3x224x224 hwc if 224 channels are meant)"),
        ("1x8000", "input 1x8000 looks channels-first (PyTorch's CL): write 8000x1, or 1x8000 cl"),
        ("3x16x112x112", "write 16x112x112x3, or 3x16x112x112 cdhw"),
        ("224x224x3 chw x", "write HxWxC (224x224x3), LxC (8000x1), DxHxWxC or N (784)"),
        ("224x224x3 nhwc", "(an order after the sizes is one of lc, hwc, dhwc, cl, chw, cdhw)"),
        ("224x224 chw", "input '224x224 chw': the order 'chw' names 3 sizes, not 2"),
    ],
)
def test_input_channels_first_hint(dims: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        analyse(f"input {dims}\nrelu")
    assert info.value.line == 1 and message in info.value.message, info.value.message


def test_the_garbage_collector_is_restored_as_it_was() -> None:
    # the engine pauses the cyclic collector while it builds rows (docs: performance)
    import gc

    assert gc.isenabled()
    analyse("input 8x8x3\nconv3-8\nrelu")
    assert gc.isenabled()
    with pytest.raises(SpecError):
        analyse("input 8x8x3\nconv3-8\nnosuchlayer")
    assert gc.isenabled()
    gc.disable()
    try:
        analyse("input 8x8x3\nconv3-8\nrelu")
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_rows_built_positionally_match_their_fields() -> None:
    # the hot path builds Row positionally; every field must land where its name says
    row = analyse("input 8x8x3\nc: conv3-16/2 bias=no").rows[1]
    assert (row.name, row.kind, row.layer, row.depth, row.line) == ("c", "layer", "conv3-16/2 bias=no", 0, 2)
    assert (row.output_shape, row.path, row.block) == ((4, 4, 16), "c", None)
    assert (row.weights, row.biases, row.non_trainable, row.macs) == (3 * 3 * 3 * 16, 0, 0, 3 * 3 * 3 * 16 * 16)
    assert (row.activations, row.receptive_field, row.jump, row.inputs) == (256, (3, 3), (2, 2), (0,))
    assert row.formulas["weights"] == "(3*3*3)*16" and row.saves and row.view == "follow" and not row.aliases
