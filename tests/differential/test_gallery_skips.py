"""The gallery's U-Net and Inception-v3 against PyTorch: Inception-v3 from torchvision's
own builder (``get_model``, no weights), U-Net written in torch.nn after its source
(milesial/Pytorch-UNet, ``unet_parts.py`` and ``unet_model.py``). Compared: total and
per-row parameters, BatchNorm buffers, output shapes, MACs (FlopCounterMode total / 2)."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

import sys
import types
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sphinx_cnntable.engine import Breakdown, analyse
from translate import bn_buffers

GALLERY = Path(__file__).resolve().parents[2] / "docs" / "gallery"


def torchvision_model(name: str, **kwargs):
    """``torchvision.models.get_model(name, weights=None, ...)``; the wheel's compiled
    ops need CUDA and the builders need none of them, so their registration is skipped."""
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed (torchvision==0.28.0)")
    return torchvision.models.get_model(name, weights=None, **kwargs)


# --- U-Net, after milesial/Pytorch-UNet (bilinear=False) -----------------------------


class DoubleConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        super().__init__()
        mid_channels = mid_channels or out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        diff_y = x2.size()[2] - x1.size()[2]
        diff_x = x2.size()[3] - x1.size()[3]
        x1 = nn.functional.pad(x1, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNet(nn.Module):
    def __init__(self, n_channels: int, n_classes: int) -> None:
        super().__init__()
        self.inc = DoubleConv(n_channels, 64)
        self.down1 = Down(64, 128)
        self.down2 = Down(128, 256)
        self.down3 = Down(256, 512)
        self.down4 = Down(512, 1024)
        self.up1 = Up(1024, 512)
        self.up2 = Up(512, 256)
        self.up3 = Up(256, 128)
        self.up4 = Up(128, 64)
        self.outc = nn.Conv2d(64, n_classes, kernel_size=1)  # OutConv

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


# --- comparisons ------------------------------------------------------------------------


def macs(model: nn.Module, x: torch.Tensor) -> int:
    """FlopCounterMode's total / 2: conv, transposed conv and linear multiply-accumulates."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2


def own_params(module: nn.Module) -> tuple[int, int]:
    """(parameters, BatchNorm running mean + variance) held by ``module`` itself."""
    buffers = 0
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        buffers = module.running_mean.numel() + module.running_var.numel()
    return sum(p.numel() for p in module.parameters(recurse=False)), buffers


def per_row(breakdown: Breakdown) -> list[tuple[int, int]]:
    return [(row.trainable, row.non_trainable) for row in breakdown.leaves() if row.params]


def per_module(model: nn.Module) -> list[tuple[int, int]]:
    """Modules holding parameters, in registration order (their order of execution in
    both networks)."""
    return [own_params(m) for m in model.modules() if any(True for _ in m.parameters(recurse=False))]


def output_shapes(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Each named child's output in the engine's order (H, W, C) or (N,)."""
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    handles = []
    for name in names:
        def hook(module, inputs, output, name=name):
            dims = tuple(output.shape)[1:]
            shapes[name] = dims if len(dims) == 1 else (*dims[1:], dims[0])
        handles.append(modules[name].register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return shapes


def check(breakdown: Breakdown, model: nn.Module, x: torch.Tensor, names: list[str]) -> None:
    model.eval()
    totals = breakdown.totals
    assert totals.trainable_params == sum(p.numel() for p in model.parameters())
    assert totals.non_trainable_params == bn_buffers(model)
    assert per_row(breakdown) == per_module(model)
    assert totals.macs == macs(model, x)
    shapes = output_shapes(model, names, x)
    for name in names:
        assert breakdown.find(name)[0].output_shape == shapes[name], name
    with torch.no_grad():
        out = model(x)
    dims = tuple(out.shape)[1:]
    assert breakdown.output_shape == (dims if len(dims) == 1 else (*dims[1:], dims[0]))


def test_unet_matches_its_source() -> None:
    breakdown = analyse((GALLERY / "specs" / "unet.cnn").read_text(encoding="utf-8"))
    names = ["inc", "down1", "down2", "down3", "down4", "up1", "up2", "up3", "up4", "outc"]
    check(breakdown, UNet(1, 2), torch.zeros(1, 1, 224, 224), names)


def test_inception_v3_matches_torchvision() -> None:
    model = torchvision_model("inception_v3", aux_logits=False, init_weights=False)
    breakdown = analyse((GALLERY / "specs" / "inception_v3.cnn").read_text(encoding="utf-8"))
    names = [name for name, _ in model.named_children() if name.startswith(("Conv2d", "Mixed", "maxpool"))]
    check(breakdown, model, torch.zeros(1, 3, 299, 299), names)
    # every BasicConv2d's conv and bn is the row of the same path
    modules = dict(model.named_modules())
    for row in breakdown.leaves():
        if row.params:
            assert own_params(modules[row.path]) == (row.trainable, row.non_trainable), row.path


def test_inception_v3_aux_head_is_a_side_output() -> None:
    """With aux_logits=True, torchvision runs InceptionAux on Mixed_6e's output in
    training mode; its figures are the side block's, and the main output is unchanged."""
    model = torchvision_model("inception_v3", aux_logits=True, init_weights=False)
    breakdown = analyse((GALLERY / "variants" / "inception_v3_aux.cnn").read_text(encoding="utf-8"))
    assert breakdown.totals.trainable_params == sum(p.numel() for p in model.parameters()) == 27_161_264
    assert breakdown.totals.non_trainable_params == bn_buffers(model)
    assert per_row(breakdown) == per_module(model)
    model.train()
    for module in model.modules():  # BN in eval mode: the 1x1 map of batch 1 has one value per channel
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    x = torch.zeros(1, 3, 299, 299)
    assert breakdown.totals.macs == macs(model, x)
    aux = breakdown.find("AuxLogits")[0]
    with torch.no_grad():
        outputs = model(x)
    assert aux.output_shape == tuple(outputs.aux_logits.shape)[1:]
    assert breakdown.output_shape == tuple(outputs.logits.shape)[1:]
