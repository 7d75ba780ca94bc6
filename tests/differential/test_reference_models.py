"""Gallery specs against networks written directly in torch.nn (reference_models)."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

from pathlib import Path

import torch
from torch import nn

from reference_models import resnet, vgg
from sphinx_cnntable.engine import analyse
from translate import bn_buffers

SPECS = Path(__file__).resolve().parents[2] / "docs" / "gallery" / "specs"


def macs_by_hooks(model: nn.Module, size: int = 224) -> int:
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            total[0] += module.weight.numel() * output.shape[2] * output.shape[3]
        elif isinstance(module, nn.Linear):
            total[0] += module.weight.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for handle in handles:
        handle.remove()
    return total[0]


MODELS = {
    **{name: (lambda name=name: vgg(name)) for name in ("vgg11", "vgg13", "vgg16", "vgg19")},
    **{f"{name}_bn": (lambda name=name: vgg(name, batch_norm=True)) for name in ("vgg11", "vgg13", "vgg16", "vgg19")},
    "resnet18": lambda: resnet([2, 2, 2, 2]),
    "resnet34": lambda: resnet([3, 4, 6, 3]),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gallery_spec_matches_torch_model(name: str) -> None:
    model = MODELS[name]()
    totals = analyse((SPECS / f"{name}.cnn").read_text(encoding="utf-8")).totals
    assert totals.trainable_params == sum(p.numel() for p in model.parameters())
    assert totals.non_trainable_params == bn_buffers(model)
    assert totals.macs == macs_by_hooks(model)


def test_vgg19_bn_published() -> None:
    # torchvision's table: vgg19_bn 143,678,248 parameters.
    assert sum(p.numel() for p in vgg("vgg19", batch_norm=True).parameters()) == 143_678_248
