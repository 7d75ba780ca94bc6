"""``cnntable import onnx:...`` of torchvision models exported in the test with
``torch.onnx.export`` (the TorchScript exporter, ``dynamo=False``; eval mode, so
BatchNorm is folded into the convolutions). The spec must count exactly what the graph's
layers read (their weight and bias initializers, through the exporter's ``Identity``
aliases), the MACs of the PyTorch model, and its output shape."""

from __future__ import annotations

import math
import sys
import time
import types
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the ONNX export needs PyTorch (the torch extra)")
onnx = pytest.importorskip("onnx", reason="the ONNX importer needs onnx (the onnx extra)")
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
torchvision = pytest.importorskip("torchvision")

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.importers import import_model, parse_model

# name, input shape (engine order), builder arguments
MODELS = [
    ("vgg16", (224, 224, 3), ""),
    ("vgg16_bn", (224, 224, 3), ""),
    ("alexnet", (224, 224, 3), ""),
    ("resnet18", (224, 224, 3), ""),
    ("resnet50", (224, 224, 3), ""),
    ("wide_resnet50_2", (224, 224, 3), ""),
    ("mobilenet_v2", (224, 224, 3), ""),
    ("mobilenet_v3_large", (224, 224, 3), ""),
    ("mnasnet1_0", (224, 224, 3), ""),
    ("efficientnet_b0", (224, 224, 3), ""),
    ("densenet121", (224, 224, 3), ""),
    ("shufflenet_v2_x1_0", (224, 224, 3), ""),
    ("regnet_x_400mf", (224, 224, 3), ""),
    ("regnet_y_400mf", (224, 224, 3), ""),
    ("googlenet", (224, 224, 3), "aux_logits=False init_weights=False"),
    ("inception_v3", (299, 299, 3), "aux_logits=False init_weights=False"),
    ("convnext_tiny", (224, 224, 3), ""),
    ("vit_b_16", (224, 224, 3), ""),
    ("swin_t", (224, 224, 3), ""),
    ("r3d_18", (16, 112, 112, 3), ""),
]

BLOCKED = {
    "swin_t": "blocked: features.1.0.attn: attention subgraph (shifted-window attention reads onnx::Unsqueeze_285, "
              "a size computed outside the module)",
}
"""Models whose ONNX graph cannot be imported yet: the node and the op that block each."""

EXPORT_LIMIT_S = 30.0

_READ = {"Conv": 1, "Gemm": 1, "MatMul": 1, "Add": 0, "Mul": 0, "BatchNormalization": 1, "LayerNormalization": 1,
         "Expand": 0}


def _read_params(path: Path) -> tuple[int, int]:
    """The values the graph's layers read from float initializers (through the exporter's
    ``Identity`` aliases), and of them the batch-norm running mean and variance."""
    model = onnx.load(str(path))
    inits = {i.name: math.prod(i.dims) for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    aliases = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    for name in aliases:
        source = name
        while source in aliases and source not in inits:
            source = aliases[source]
        if source in inits:
            inits[name] = inits[source]
    total = stats = 0
    for node in model.graph.node:
        if node.op_type in _READ:
            total += sum(inits.get(name, 0) for name in node.input[_READ[node.op_type]:] if name)
        if node.op_type == "BatchNormalization":
            stats += sum(inits.get(name, 0) for name in node.input[3:5])
    return total, stats


def _torch_macs(name: str, shape: tuple[int, ...], extra: str) -> int:
    """The PyTorch model's MACs: its torch import, whose MACs test_importers_torch checks
    against FlopCounterMode for every one of these models."""
    ref = parse_model(["torch:torchvision.models:get_model", f"name={name}", *extra.split()])
    return analyse(import_model(ref, shape).text).totals.macs


@pytest.mark.parametrize(("name", "shape", "extra"), MODELS)
def test_onnx_import_counts_the_graph(tmp_path: Path, name: str, shape: tuple[int, ...], extra: str) -> None:
    if name in BLOCKED:
        pytest.skip(BLOCKED[name])
    kwargs = {k: v for k, _, v in (w.partition("=") for w in extra.split())}
    kwargs = {k: v == "True" for k, v in kwargs.items()}
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    path = tmp_path / f"{name}.onnx"
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, shape[-1], *shape[:-1]),), str(path), dynamo=False)
    folded = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    learned = sum(p.numel() for p in model.parameters())
    del model
    took = time.monotonic() - start
    if took > EXPORT_LIMIT_S:
        pytest.skip(f"torch.onnx.export took {took:.0f} s (over {EXPORT_LIMIT_S:.0f} s)")
    emitted = import_model(parse_model(f"onnx:{path}"), None)
    breakdown = analyse(emitted.text)
    read, stats = _read_params(path)
    assert breakdown.totals.params == read
    if not folded:  # nothing folded away: the graph reads every parameter of the model
        assert read == learned
    assert breakdown.totals.non_trainable_params == stats  # BatchNorm folded where a conv precedes it
    assert breakdown.totals.macs == _torch_macs(name, shape, extra)
    assert breakdown.output_shape == ((400,) if name == "r3d_18" else (1000,))


class _Nested(torch.nn.Module):
    """Inception-E in small: ``cat([a(x), cat([b(y), c(y)]), p(x)])`` with ``y = s(x)``. The
    exporter flattens the two cats into one Concat whose inputs b(y) and c(y) share ``s``."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Conv2d(4, 8, 1)
        self.s = torch.nn.Conv2d(4, 6, 1)
        self.b = torch.nn.Conv2d(6, 5, (1, 3), padding=(0, 1))
        self.c = torch.nn.Conv2d(6, 7, (3, 1), padding=(1, 0))
        self.p = torch.nn.Conv2d(4, 3, 1)

    def forward(self, x):  # noqa: ANN001, ANN201
        y = torch.relu(self.s(x))
        return torch.cat([self.a(x), torch.cat([self.b(y), self.c(y)], 1), self.p(torch.nn.functional.avg_pool2d(x, 3, 1, 1))], 1)


def test_flattened_nested_concat_counts_the_shared_layer_once(tmp_path: Path) -> None:
    model = _Nested().eval()
    path = tmp_path / "nested.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 4, 9, 9),), str(path), dynamo=False)
    concats = [n for n in onnx.load(str(path)).graph.node if n.op_type == "Concat"]
    assert [len(n.input) for n in concats] == [4]  # the exporter's flattening, which the test is about
    emitted = import_model(parse_model(f"onnx:{path}"), None)
    breakdown = analyse(emitted.text)
    assert breakdown.totals.params == sum(p.numel() for p in model.parameters()) == _read_params(path)[0]
    assert breakdown.output_shape == (9, 9, 23)
    assert emitted.text.count("conv1-6") == 1
