"""The ViT and Swin gallery specs against torchvision's own builders.

``torchvision.models.get_model(name, weights=None)`` (no weights are downloaded) is run
once on a zero image under ``torch.utils.flop_counter.FlopCounterMode``, with the
attention fast path off and scaled-dot-product attention on its math backend, so the two
attention matmuls are ``bmm`` calls the counter sees (the fused CPU kernel is not
counted). MACs are the counter's FLOPs / 2. Module by module, the spec's row of the same
name must have the module's parameter count, its MACs and its output shape.
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

import math
import sys
import types
from pathlib import Path

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from sphinx_cnntable.engine import Breakdown, Row, analyse

# torchvision's compiled ops are built for CUDA; the model builders need none of them.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed: the 'torch' extra")

SPECS = Path(__file__).resolve().parents[2] / "docs" / "gallery" / "specs"


class Measured:
    """One run of a torchvision model: parameters, MACs and output shape per module."""

    def __init__(self, name: str) -> None:
        self.model = torchvision.models.get_model(name, weights=None).eval()
        self.modules = dict(self.model.named_modules())
        self.shapes: dict[str, tuple[int, ...]] = {}
        handles = [module.register_forward_hook(self._hook(path)) for path, module in self.modules.items() if path]
        fastpath = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
                self.model(torch.zeros(1, 3, 224, 224))
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
            for handle in handles:
                handle.remove()
        root = type(self.model).__name__
        counts = counter.get_flop_counts()
        self.total_macs = sum(counts["Global"].values()) // 2
        self.macs = {key[len(root) + 1:]: sum(ops.values()) // 2 for key, ops in counts.items() if key.startswith(f"{root}.")}

    def _hook(self, path: str):
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output) -> None:
            tensor = output[0] if isinstance(output, tuple) else output
            self.shapes[path] = tuple(tensor.shape[1:])

        return record

    def params(self, path: str) -> int:
        return sum(p.numel() for p in self.modules[path].parameters())

    def check(self, path: str, row: Row, shape: tuple[int, ...] | None = None) -> None:
        """``row`` has the parameters, MACs and output shape of module ``path``."""
        got = (row.trainable, row.non_trainable, row.macs, row.output_shape)
        want = (self.params(path), 0, self.macs.get(path, 0), shape or self.shapes[path])
        assert got == want, f"{path}: engine {got} != torchvision {want}"


def load(name: str) -> Breakdown:
    return analyse((SPECS / f"{name}.cnn").read_text(encoding="utf-8"))


def one(breakdown: Breakdown, path: str) -> Row:
    """The outermost row at ``path`` (an unlabelled row inside a group shares its path)."""
    rows = breakdown.find(path)
    assert rows, path
    return rows[0]


def check_totals(measured: Measured, breakdown: Breakdown) -> None:
    model = measured.model
    assert breakdown.totals.trainable_params == sum(p.numel() for p in model.parameters())
    assert breakdown.totals.non_trainable_params == 0  # LayerNorm only: no running statistics
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert breakdown.totals.macs == measured.total_macs
    assert breakdown.output_shape == (1000,)


def test_vit_b_16_matches_torchvision() -> None:
    measured = Measured("vit_b_16")
    b = load("vit_b_16")
    check_totals(measured, b)
    assert measured.total_macs == 17_563_828_224  # torchvision's published 17.564 GFLOPS
    c, h, w = measured.shapes["conv_proj"]  # NCHW: the engine reads it as H*W tokens
    measured.check("conv_proj", one(b, "conv_proj"), (h * w, c))
    assert one(b, "class_token").trainable == measured.model.class_token.numel()
    assert one(b, "class_token").output_shape == (h * w + 1, c)
    assert one(b, "encoder.pos_embedding").trainable == measured.model.encoder.pos_embedding.numel()
    encoder = one(b, "encoder")
    assert (encoder.trainable, encoder.macs, encoder.output_shape) == (
        measured.params("encoder"), measured.macs["encoder"], measured.shapes["encoder"])
    for index in range(12):
        torch_path, spec_path = f"encoder.layers.encoder_layer_{index}", f"encoder.layers_{index + 1}"
        measured.check(torch_path, one(b, spec_path))
        for part in ("ln_1", "self_attention", "ln_2", "mlp"):
            measured.check(f"{torch_path}.{part}", one(b, f"{spec_path}.{part}"))
    measured.check("encoder.ln", one(b, "encoder.ln"))
    measured.check("heads", one(b, "heads"))


def test_swin_t_matches_torchvision() -> None:
    measured = Measured("swin_t")
    b = load("swin_t")
    check_totals(measured, b)
    assert measured.total_macs == 4_490_566_656  # torchvision's published 4.491 GFLOPS
    for index in range(8):
        measured.check(f"features.{index}", one(b, f"features.{index}"))
    measured.check("norm", one(b, "norm"))
    measured.check("head", one(b, "head"))
    blocks = [row for row in b.rows if row.kind == "group" and row.name.startswith("swin_block")]
    attention = [row for row in b.rows if row.name == "attn"]
    torch_blocks = [f"features.{stage}.{i}" for stage in (1, 3, 5, 7) for i in range(len(measured.modules[f"features.{stage}"]))]
    assert len(blocks) == len(attention) == len(torch_blocks) == 12
    for path, block, attn in zip(torch_blocks, blocks, attention):
        measured.check(path, block)
        measured.check(f"{path}.attn", attn)
        window = measured.modules[f"{path}.attn"].window_size
        assert measured.modules[f"{path}.attn"].relative_position_bias_table.numel() == math.prod(2 * w - 1 for w in window) * (
            measured.modules[f"{path}.attn"].num_heads)
