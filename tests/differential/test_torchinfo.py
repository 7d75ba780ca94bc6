"""torchinfo's totals against the engine's, with the reconciliation of Mult-Adds.

torchinfo 1.8.0 counts "Mult-Adds" per layer as: conv: (weights + biases) x output
positions; linear: (weights + biases); BatchNorm: its parameters (gamma + beta); all
times the batch (1 here). The engine's MACs (torchvision's ``_ops``) count weights
only. So, with the engine's rows:

    mult_adds = macs + sum(conv biases x H_out x W_out) + sum(fc biases) + sum(BN gamma + beta)
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

import math
from pathlib import Path

torchinfo = pytest.importorskip("torchinfo", reason="torchinfo (and numpy, which it imports) is not installed: the 'torch' extra")

from reference_models import resnet, vgg  # noqa: E402
from sphinx_cnntable.engine import analyse  # noqa: E402

SPECS = Path(__file__).resolve().parents[2] / "docs" / "gallery" / "specs"


def extra_terms(breakdown) -> int:
    """Bias additions (one per output element of a conv with bias, one per fc bias) and
    BatchNorm's parameters, which torchinfo adds to the weight multiplies."""
    total = 0
    for row in breakdown.leaves():
        if row.kind != "layer":
            continue
        if row.non_trainable:  # batch norm
            total += row.trainable
        elif row.biases:
            positions = row.output_shape[0] * row.output_shape[1] if len(row.output_shape) == 3 else 1
            total += row.biases * positions
    return total


@pytest.mark.parametrize("name, model", [("vgg16", lambda: vgg("vgg16")), ("resnet18", lambda: resnet([2, 2, 2, 2])),
                                         ("vgg16_bn", lambda: vgg("vgg16", batch_norm=True))])
def test_torchinfo_totals(name: str, model) -> None:
    stats = torchinfo.summary(model(), input_size=(1, 3, 224, 224), verbose=0)
    breakdown = analyse((SPECS / f"{name}.cnn").read_text(encoding="utf-8"))
    assert stats.total_params == breakdown.totals.trainable_params
    assert stats.total_mult_adds == breakdown.totals.macs + extra_terms(breakdown)


def test_torchinfo_vgg16_published() -> None:
    # Reference: torchinfo reports 15,483,821,032 Mult-Adds for VGG-16 at 224x224:
    # 15,470,264,320 weight MACs + 13,556,712 bias terms.
    breakdown = analyse((SPECS / "vgg16.cnn").read_text(encoding="utf-8"))
    assert breakdown.totals.macs == 15_470_264_320
    assert extra_terms(breakdown) == 13_556_712
    stats = torchinfo.summary(vgg("vgg16"), input_size=(1, 3, 224, 224), verbose=0)
    assert stats.total_mult_adds == 15_483_821_032


def _torchvision(name: str):
    import sys
    import types

    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed: the 'torch' extra")
    return torchvision.models.get_model(name, weights=None).eval()


def _flop_counter_macs(model) -> int:
    """FlopCounterMode's FLOPs / 2 with the attention fast path off and SDPA as matmuls."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 3, 224, 224))
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(("name", "mult_adds", "macs"), [
    ("vit_b_16", 173_232_616, 17_563_828_224),
    ("swin_t", 34_368_232, 4_490_566_656),
    ("convnext_tiny", 322_371_592, 4_455_531_264),
])
def test_torchinfo_misses_the_token_count(name: str, mult_adds: int, macs: int) -> None:
    # torchvision's _ops (17.564, 4.491, 4.456 GFLOPS) against torchinfo's Mult-Adds.
    model = _torchvision(name)
    assert torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0).total_mult_adds == mult_adds
    assert _flop_counter_macs(model) == macs


def torchinfo_terms(breakdown) -> int:
    """torchinfo's reading of our rows: a convolution's weights and biases x its output
    positions (a patch embedding's positions are its tokens); a ``Linear`` or a
    ``LayerNorm`` its parameters once, whatever the token count; attention, class token
    and position embedding nothing (their parameters sit on modules that are not leaves)."""
    total = 0
    for row in breakdown.leaves():
        head = row.layer.split()[0]
        if head.startswith(("conv", "patch")) and not head.startswith("patchmerge"):
            total += row.trainable * math.prod(row.output_shape[:-1])
        elif head.startswith("fc") or head == "layernorm":
            total += row.trainable
    return total


@pytest.mark.parametrize(("name", "mult_adds"), [("vit_b_16", 173_232_616), ("swin_t", 34_368_232)])
def test_torchinfo_transformers_reconciled(name: str, mult_adds: int) -> None:
    breakdown = analyse((SPECS / f"{name}.cnn").read_text(encoding="utf-8"))
    assert torchinfo_terms(breakdown) == mult_adds
