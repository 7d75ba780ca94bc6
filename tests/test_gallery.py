"""The gallery specs (docs/gallery/specs) against published figures.

Every expected value below is written out from its source (torchvision's model
builders' ``num_params`` and ``_ops``, the PyTorch tutorial, Keras applications, the
CS231n VGG table, torchinfo) or is plain arithmetic on that source's definition, with
the arithmetic shown. None is copied from the engine's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sphinx_cnntable.engine import analyse

SPECS = Path(__file__).resolve().parent.parent / "docs" / "gallery" / "specs"


def load(name: str, input_shape: str | None = None):
    return analyse((SPECS / f"{name}.cnn").read_text(encoding="utf-8"), input_shape=input_shape)


def bn_buffers(*channels: int) -> int:
    """BatchNorm running mean + running variance: 2 per normalised channel."""
    return 2 * sum(channels)


# GoogLeNet inception configurations (torchvision): ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj
_INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

# VGG convolution widths per configuration (one entry per conv layer)
_VGG = {
    "vgg11": [64, 128, 256, 256, 512, 512, 512, 512],
    "vgg13": [64, 64, 128, 128, 256, 256, 512, 512, 512, 512],
    "vgg16": [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512],
    "vgg19": [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512],
}

# U-Net DoubleConv widths: inc, down1..down4, up1..up4
_UNET_DOUBLECONV = (64, 128, 256, 512, 1024, 512, 256, 128, 64)

# name: (trainable params, non-trainable params, GMACs as torchvision's _ops, exact MACs or None)
PUBLISHED = {
    # PyTorch tutorial LeNet: 156 + 2,416 + 48,120 + 10,164 + 850
    # MACs: 5*5*1*6*28*28 + 5*5*6*16*10*10 + 400*120 + 120*84 + 84*10
    "lenet5": (61_706, 0, None, 117_600 + 240_000 + 48_000 + 10_080 + 840),
    "alexnet": (61_100_840, 0, 0.714, 714_188_480),
    "vgg11": (132_863_336, 0, 7.609, None),
    "vgg11_bn": (132_868_840, bn_buffers(*_VGG["vgg11"]), 7.609, None),
    "vgg13": (133_047_848, 0, 11.308, None),
    "vgg13_bn": (133_053_736, bn_buffers(*_VGG["vgg13"]), 11.308, None),
    "vgg16": (138_357_544, 0, 15.47, 15_470_264_320),
    "vgg16_bn": (138_365_992, bn_buffers(*_VGG["vgg16"]), 15.47, 15_470_264_320),
    "vgg19": (143_667_240, 0, 19.632, None),
    # torchvision lists vgg19_bn at 143,678,248 = vgg19 + 2 * 5,504 BN channels
    "vgg19_bn": (143_678_248, bn_buffers(*_VGG["vgg19"]), 19.632, None),
    # BN channels: bn1 64; layer1 4*64; layer2 4*128 + downsample 128; layer3 5*256; layer4 5*512
    "resnet18": (11_689_512, bn_buffers(64, 4 * 64, 5 * 128, 5 * 256, 5 * 512), 1.814, 1_814_073_344),
    # layers [3, 4, 6, 3]: 2 BN per block + one per downsample
    "resnet34": (21_797_672, bn_buffers(64, 6 * 64, 9 * 128, 13 * 256, 7 * 512), 3.664, 3_663_761_408),
    # Keras applications MobileNetV2(1.0, 224): 3,538,984 = 3,504,872 + 34,112
    "mobilenet_v2": (3_504_872, 34_112, 0.301, None),
    # BN channels: conv1 64, conv2 64, conv3 192, and every conv of every inception module
    "googlenet": (6_624_904, bn_buffers(64, 64, 192, *(sum(c) for c in _INCEPTION.values())), 1.498, None),
    # torchvision: vit_b_16 86,567,656 params, 17.564 GFLOPS; swin_t 28,288,354, 4.491 (LayerNorm only: no buffers)
    "vit_b_16": (86_567_656, 0, 17.564, 17_563_828_224),
    "swin_t": (28_288_354, 0, 4.491, 4_490_566_656),
    # torchvision inception_v3 with aux_logits=False: 23,834,568 parameters, 34,432 BN
    # buffers; _ops 5.713 GFLOPS, FlopCounterMode total / 2 = 5,713,216,096
    "inception_v3": (23_834_568, 34_432, 5.713, 5_713_216_096),
    # milesial/Pytorch-UNet, bilinear=False, 1 channel in, 2 classes, 224x224: every
    # DoubleConv has two BN of its output width
    "unet": (31_036_546, bn_buffers(*(2 * c for c in _UNET_DOUBLECONV)), None, 36_823_564_288),
    # The modern-architectures table (torchvision's num_params and _ops; FlopCounterMode / 2):
    # M5 (torchaudio tutorial): 2,592 + 64 + 3,104 + 64 + 6,208 + 128 + 12,352 + 128 + 2,275;
    # MACs 80*32*496 + 3*32*32*122 + 3*32*64*28 + 3*64*64*5 + 64*35
    "m5": (26_915, bn_buffers(32, 32, 64, 64), None, 1_269_760 + 374_784 + 172_032 + 61_440 + 2_240),
    "c3d": (79_991_015, 0, None, 38_548_959_232),
    # BN channels: stem 64; 2 per basic block (8 blocks) + one per downsample (3)
    "r3d_18": (33_371_472, bn_buffers(64, 4 * 64, 5 * 128, 5 * 256, 5 * 512), 40.697, 40_696_553_472),
    # BN channels per bottleneck: 2 * (2 * planes) + 4 * planes, plus 4 * planes per downsample
    "wide_resnet50_2": (
        68_883_240,
        bn_buffers(64, *(n * 8 * p + 4 * p for n, p in ((3, 64), (4, 128), (6, 256), (3, 512)))),
        11.398,
        11_398_021_120,
    ),
    # torchvision's table: num_params; the BN figure is twice the normalised channels
    # (every convolution but the excitation's feeds a BatchNorm)
    "mnasnet1_0": (4_383_312, 37_920, 0.314, 314_415_872),
    "efficientnet_b0": (5_288_548, 42_016, 0.386, 385_814_752),
    "mobilenet_v3_large": (5_483_032, 24_400, 0.217, 216_589_760),
    "regnet_x_400mf": (5_495_976, 37_856, 0.414, 413_812_608),
    "regnet_y_400mf": (4_344_144, 27_152, 0.402, 401_842_848),
    "shufflenet_v2_x1_0": (2_278_604, 16_180, 0.145, 144_907_992),
    # LayerNorm has no running statistics: nothing non-trainable
    "convnext_tiny": (28_589_128, 0, 4.456, 4_455_531_264),
}


def test_every_spec_has_a_figure() -> None:
    assert {path.stem for path in SPECS.glob("*.cnn")} == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_totals(name: str) -> None:
    trainable, non_trainable, gmacs, macs = PUBLISHED[name]
    totals = load(name).totals
    assert totals.trainable_params == trainable
    assert totals.non_trainable_params == non_trainable
    assert totals.params == trainable + non_trainable
    if gmacs is not None:
        assert round(totals.macs / 1e9, 3) == gmacs
    if macs is not None:
        assert totals.macs == macs


def test_published_non_trainable_figures() -> None:
    # The arithmetic above reproduces the sources' own totals.
    assert bn_buffers(64, 4 * 64, 5 * 128, 5 * 256, 5 * 512) == 9_600
    assert 143_667_240 + bn_buffers(*_VGG["vgg19"]) == 143_678_248  # gamma + beta: 2 per channel too
    assert 138_357_544 + bn_buffers(*_VGG["vgg16"]) == 138_365_992
    assert 3_504_872 + 34_112 == 3_538_984


def test_keras_mobilenet_v2_total() -> None:
    assert load("mobilenet_v2").totals.params == 3_538_984


CLASSES = {"lenet5": 10, "m5": 35, "c3d": 487, "r3d_18": 400}


def test_all_end_in_a_classifier() -> None:
    outputs = {"unet": (224, 224, 2)}  # U-Net: a 2-class map of the input's size
    for name in PUBLISHED:
        assert load(name).output_shape == outputs.get(name, (CLASSES.get(name, 1000),))


def test_unet_buffers_arithmetic() -> None:
    assert bn_buffers(*(2 * c for c in _UNET_DOUBLECONV)) == 11_776


def test_unet_skips_and_shapes() -> None:
    b = load("unet")
    # milesial's forward: x1..x5 at 224, 112, 56, 28, 14; up1..up4 back to 28, 56, 112, 224
    shapes = {"inc": (224, 224, 64), "down1": (112, 112, 128), "down2": (56, 56, 256), "down3": (28, 28, 512),
              "down4": (14, 14, 1024), "up1": (28, 28, 512), "up2": (56, 56, 256), "up3": (112, 112, 128),
              "up4": (224, 224, 64), "outc": (224, 224, 2)}
    for label, shape in shapes.items():
        assert b.find(label)[0].output_shape == shape
    # Up: ConvTranspose2d(in, in // 2, 2, stride=2) with a bias, then cat([skip, up]): 2 * out channels
    concats = [row.output_shape for row in b.rows if row.kind == "merge"]
    assert concats == [(28, 28, 1024), (56, 56, 512), (112, 112, 256), (224, 224, 128)]
    assert [row.trainable for row in b.rows if row.layer.startswith("deconv")] == [
        1024 * 512 * 4 + 512, 512 * 256 * 4 + 256, 256 * 128 * 4 + 128, 128 * 64 * 4 + 64]


def test_inception_v3_aux_variant() -> None:
    # torchvision lists inception_v3 at 27,161,264 parameters: the weights include the
    # auxiliary classifier (InceptionAux: conv0 1x1 768->128, conv1 5x5 128->768, fc 768->1000).
    text = (SPECS.parent / "variants" / "inception_v3_aux.cnn").read_text(encoding="utf-8")
    b = analyse(text)
    assert b.totals.trainable_params == 27_161_264
    aux = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    assert 23_834_568 + aux == 27_161_264
    assert b.find("AuxLogits")[0].trainable == aux
    assert b.find("AuxLogits")[0].output_shape == (1000,)
    assert b.totals.non_trainable_params == 34_432 + bn_buffers(128, 768)
    assert b.output_shape == (1000,)  # the main path, not the side output


def test_inception_v3_shapes() -> None:
    b = load("inception_v3")
    # torchvision's forward comments: N x 192 x 35 x 35 after maxpool2, 768 x 17 x 17 after
    # Mixed_6e, 2048 x 8 x 8 after Mixed_7c
    assert b.find("maxpool2")[0].output_shape == (35, 35, 192)
    assert b.find("Mixed_5b")[0].output_shape == (35, 35, 256)
    assert b.find("Mixed_6e")[0].output_shape == (17, 17, 768)
    assert b.find("Mixed_7a")[0].output_shape == (8, 8, 1280)
    assert b.find("Mixed_7c")[0].output_shape == (8, 8, 2048)


def _vit_block(c: int, mlp: int, tokens: int) -> tuple[int, int]:
    """ViT EncoderBlock params and MACs: two LayerNorms (2C each); attention with
    in_proj (3C x C + 3C) and out_proj (C x C + C), MACs tokens * 4C^2 for the four
    projections plus tokens^2 * C for Q K^T and again for the weighted sum of V; the MLP's
    two Linear layers, each applied to every token."""
    params = 2 * 2 * c + (4 * c * c + 4 * c) + (c * mlp + mlp) + (mlp * c + c)
    macs = tokens * 4 * c * c + 2 * tokens * tokens * c + 2 * tokens * c * mlp
    return params, macs


def _swin_block(c: int, heads: int, positions: int, window: int = 7) -> tuple[int, int]:
    """Swin block params and MACs: two LayerNorms, qkv (C x 3C + 3C) and proj (C x C + C),
    the relative-position-bias table (2w - 1)^2 x heads, the MLP (C -> 4C -> C); MACs
    positions * (4C^2 + 8C^2) for the linear maps and 2 * positions * w^2 * C for the two
    attention matmuls inside the windows."""
    params = 2 * 2 * c + 4 * c * c + 4 * c + (2 * window - 1) ** 2 * heads + (4 * c * c + 4 * c) + (4 * c * c + c)
    macs = positions * 12 * c * c + 2 * positions * window * window * c
    return params, macs


def test_vit_b_16_arithmetic() -> None:
    # 196 patches of 16x16x3 (conv_proj), a class token, 197 position embeddings,
    # 12 blocks, a final LayerNorm and the 768 -> 1000 head: torchvision's two figures.
    block_params, block_macs = _vit_block(768, 3072, 197)
    params = (16 * 16 * 3 * 768 + 768) + 768 + 197 * 768 + 12 * block_params + 2 * 768 + (768 * 1000 + 1000)
    macs = 16 * 16 * 3 * 768 * 196 + 12 * block_macs + 768 * 1000
    assert (params, macs) == (86_567_656, 17_563_828_224)
    b = load("vit_b_16")
    assert (b.totals.params, b.totals.macs) == (params, macs)
    assert b.find("conv_proj")[0].output_shape == (196, 768)
    assert b.find("class_token")[0].output_shape == (197, 768)
    assert b.find("encoder.pos_embedding")[0].trainable == 197 * 768
    blocks = [row for row in b.rows if row.block == "call"]
    assert [(row.trainable, row.macs, row.output_shape) for row in blocks] == [(block_params, block_macs, (197, 768))] * 12
    attention = b.find("encoder.layers_1.self_attention")[0]
    assert (attention.trainable, attention.macs) == (4 * 768 * 768 + 4 * 768, 197 * 4 * 768 * 768 + 2 * 197 * 197 * 768)


def test_swin_t_arithmetic() -> None:
    # patch embedding conv 4x4/4 (3 -> 96) + LayerNorm; stages at 56, 28, 14, 7 with
    # depths 2, 2, 6, 2; patch merging: LayerNorm(4C) and a 4C -> 2C Linear without bias.
    stages = [(96, 3, 2, 56), (192, 6, 2, 28), (384, 12, 6, 14), (768, 24, 2, 7)]
    params = 4 * 4 * 3 * 96 + 96 + 2 * 96
    macs = 4 * 4 * 3 * 96 * 56 * 56
    for index, (c, heads, depth, size) in enumerate(stages):
        block_params, block_macs = _swin_block(c, heads, size * size)
        params += depth * block_params
        macs += depth * block_macs
        if index < 3:  # patch merging to the next stage
            params += 2 * 4 * c + 4 * c * 2 * c
            macs += (size // 2) ** 2 * 4 * c * 2 * c
    params += 2 * 768 + 768 * 1000 + 1000
    macs += 768 * 1000
    assert (params, macs) == (28_288_354, 4_490_566_656)
    b = load("swin_t")
    assert (b.totals.params, b.totals.macs) == (params, macs)
    shapes = {label: b.find(label)[0].output_shape for label in ("features.1", "features.3", "features.5", "features.7")}
    assert shapes == {"features.1": (56, 56, 96), "features.3": (28, 28, 192), "features.5": (14, 14, 384),
                      "features.7": (7, 7, 768)}
    assert b.find("features.2")[0].trainable == 2 * 384 + 384 * 192


def test_lenet_shapes() -> None:
    shapes = [row.output_shape for row in load("lenet5").leaves()]
    assert shapes == [(32, 32, 1), (28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (400,), (120,), (84,), (10,)]


def test_alexnet_feature_map_before_classifier() -> None:
    b = load("alexnet")
    assert b.find("pool5")[0].output_shape == (6, 6, 256)
    assert b.find("conv1")[0].output_shape == (55, 55, 64)


def test_vgg16_cs231n_rows() -> None:
    b = load("vgg16")
    # CS231n's rows (input included) add up to 15,237,608 elements.
    assert b.totals.activations == 15_237_608
    assert b.totals.weights == 138_344_128
    assert b.totals.biases == 13_416
    assert b.find("conv5_3")[0].rf == 196
    assert b.find("pool5")[0].rf == 212
    assert b.find("fc6")[0].trainable == 102_764_544
    assert b.find("conv3_1")[0].trainable == 295_168


def test_googlenet_shapes() -> None:
    b = load("googlenet")
    # torchvision: N x 192 x 28 x 28 after maxpool2, 832 x 7 x 7 after maxpool4, 1024 after inception5b
    assert b.find("maxpool2")[0].output_shape == (28, 28, 192)
    assert b.find("inception3b")[0].output_shape == (28, 28, 480)
    assert b.find("maxpool4")[0].output_shape == (7, 7, 832)
    assert b.find("inception5b")[0].output_shape == (7, 7, 1024)


def test_resnet18_torchinfo_64px() -> None:
    # torchinfo summary of resnet18 at (1, 3, 64, 64): per-stage params and shapes.
    b = load("resnet18", input_shape="64x64x3")
    assert b.totals.trainable_params == 11_689_512
    assert b.totals.macs == 148_557_824
    expected = {"layer1": ((16, 16, 64), 147_968), "layer2": ((8, 8, 128), 525_568),
                "layer3": ((4, 4, 256), 2_099_712), "layer4": ((2, 2, 512), 8_393_728)}
    for label, (shape, params) in expected.items():
        row = b.find(label)[0]
        assert row.output_shape == shape
        assert row.trainable == params
    blocks = [row.trainable for row in b.rows if row.block == "call"]
    assert blocks == [73_984, 73_984, 230_144, 295_424, 919_040, 1_180_672, 3_673_088, 4_720_640]


# --- against PyTorch: torchvision's own builders, and M5 / C3D written in torch.nn ----------

TORCH_MODELS = {
    # spec: (how to build the model; "tv:" = torchvision.models.get_model(name, weights=None))
    "m5": "ref:M5",
    "c3d": "ref:C3D",
    "r3d_18": "tv:r3d_18",
    "wide_resnet50_2": "tv:wide_resnet50_2",
    "mnasnet1_0": "tv:mnasnet1_0",
    "efficientnet_b0": "tv:efficientnet_b0",
    "mobilenet_v3_large": "tv:mobilenet_v3_large",
    "regnet_x_400mf": "tv:regnet_x_400mf",
    "regnet_y_400mf": "tv:regnet_y_400mf",
    "shufflenet_v2_x1_0": "tv:shufflenet_v2_x1_0",
    "convnext_tiny": "tv:convnext_tiny",
}


def _torch_model(name: str):  # type: ignore[no-untyped-def]
    pytest.importorskip("torch", reason="PyTorch is not installed: the 'torch' extra runs these")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent / "differential"))
    where, _, what = TORCH_MODELS[name].partition(":")
    if where == "tv":
        from torchvision_models import builder

        return builder(what)
    import reference_models

    return getattr(reference_models, what)()


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(TORCH_MODELS))
def test_gallery_spec_matches_pytorch(name: str) -> None:
    """Row by row: every module owning parameters or BatchNorm statistics, in execution
    order, against the spec's rows that hold parameters: trainable and non-trainable
    counts, output shape, MACs; then the totals and FlopCounterMode's MACs."""
    import math

    model = _torch_model(name)
    from torchvision_models import flop_counter_macs, rows

    breakdown = load(name)
    engine = [row for row in breakdown.leaves() if row.kind == "layer" and (row.trainable or row.non_trainable)]
    torch_rows = rows(model, breakdown.input_shape)
    for index, (mine, theirs) in enumerate(zip(engine, torch_rows)):
        got = (mine.trainable, mine.non_trainable, mine.macs, math.prod(mine.output_shape), mine.output_shape[-1])
        want = (theirs.trainable, theirs.non_trainable, theirs.macs, math.prod(theirs.shape), theirs.shape[-1])
        assert got == want, f"row {index} ({mine.name}, line {mine.line}) != {theirs.kind}"
        if len(theirs.shape) == len(mine.output_shape):
            assert mine.output_shape == theirs.shape, f"row {index} ({mine.name})"
    assert len(engine) == len(torch_rows)
    totals = breakdown.totals
    assert totals.trainable_params == sum(p.numel() for p in model.parameters())
    assert totals.non_trainable_params == sum(
        m.running_mean.numel() + m.running_var.numel() for m in model.modules() if hasattr(m, "running_var")
        and m.running_var is not None
    )
    assert totals.macs == sum(row.macs for row in torch_rows) == flop_counter_macs(model, breakdown.input_shape)
