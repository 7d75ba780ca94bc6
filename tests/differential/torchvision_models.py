"""torchvision's own model builders, and per-row records of a PyTorch model to compare
with a spec's rows.

torchvision 0.28's compiled operators are linked against CUDA and fail to load beside
the CPU torch wheel; the model builders need none of them, so an empty module stands in
for ``torchvision._meta_registrations`` before the import. No weights are downloaded:
every builder is called with ``weights=None``.
"""

from __future__ import annotations

import math
import sys
import types
from dataclasses import dataclass

import torch
from torch import nn

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import torchvision  # noqa: E402


def builder(name: str) -> nn.Module:
    """``torchvision.models.get_model(name, weights=None)``, in eval mode."""
    return torchvision.models.get_model(name, weights=None).eval()


_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


@dataclass(frozen=True)
class Row:
    """One module that owns parameters or BatchNorm statistics: its own trainable
    parameters (``recurse=False``), running statistics, output shape in the engine's order
    (channels last) and MACs (conv: weight x output positions; linear: weight x
    positions it is applied at)."""

    kind: str
    trainable: int
    non_trainable: int
    shape: tuple[int, ...]
    macs: int


def rows(model: nn.Module, input_shape: tuple[int, ...]) -> list[Row]:
    """Run ``model`` on zeros of ``input_shape`` (engine order, channels last); one
    :class:`Row` per module owning parameters or buffers, in the order they finish."""
    found: list[Row] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        own = sum(p.numel() for p in module.parameters(recurse=False))
        stats = 0
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            stats = module.running_mean.numel() + module.running_var.numel()
        if not own and not stats:
            return
        if isinstance(module, (nn.Linear, nn.LayerNorm)) and type(module).__name__ != "LayerNorm2d":
            shape = tuple(output.shape[1:])  # channels last already (ConvNeXt's LayerNorm2d is not)
        else:
            dims = tuple(output.shape[1:])
            shape = dims if len(dims) == 1 else (*dims[1:], dims[0])
        macs = 0
        if isinstance(module, _CONVS):
            macs = module.weight.numel() * math.prod(output.shape[2:])
        elif isinstance(module, nn.Linear):
            macs = module.weight.numel() * math.prod(output.shape[1:-1])
        found.append(Row(type(module).__name__, own, stats, shape, macs))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    dims = input_shape if len(input_shape) == 1 else (input_shape[-1], *input_shape[:-1])
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *dims))
    finally:
        for handle in handles:
            handle.remove()
    return found


def flop_counter_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """``torch.utils.flop_counter.FlopCounterMode`` total / 2 (torchvision's ``_ops``)."""
    from torch.utils.flop_counter import FlopCounterMode

    dims = input_shape if len(input_shape) == 1 else (input_shape[-1], *input_shape[:-1])
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(torch.zeros(1, *dims))
    return counter.get_total_flops() // 2
