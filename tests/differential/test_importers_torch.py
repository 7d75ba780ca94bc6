"""``cnntable import torch:...`` against the models themselves, ``cnntable check`` and the
round trip through the hand-written gallery specs.

Every model is built on the meta device (no weights, no memory for them) and its MACs
are counted by ``FlopCounterMode`` on a meta input, so each test stays within a few
hundred MB and a few seconds.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the torch importer needs PyTorch (the torch extra)")
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
torchvision = pytest.importorskip("torchvision", reason="the torchvision builders need torchvision")

from torch.utils.flop_counter import FlopCounterMode

from sphinx_cnntable.cli import main
from sphinx_cnntable.engine import analyse, parse_shape
from sphinx_cnntable.importers import UnsupportedOp, import_model, parse_model
from sphinx_cnntable.importers.check import check
from sphinx_cnntable.importers.torch_fx import figures, import_module, load, torch_input

GALLERY = Path(__file__).resolve().parents[2] / "docs" / "gallery" / "specs"

# name, input shape (engine order), builder arguments
MODELS = [
    ("vgg16", "224x224x3", ""),
    ("resnet18", "224x224x3", ""),
    ("resnet50", "224x224x3", ""),
    ("mobilenet_v2", "224x224x3", ""),
    ("densenet121", "224x224x3", ""),
    ("efficientnet_b0", "224x224x3", ""),
    ("mobilenet_v3_large", "224x224x3", ""),
    ("shufflenet_v2_x1_0", "224x224x3", ""),
    ("regnet_x_400mf", "224x224x3", ""),
    ("regnet_y_400mf", "224x224x3", ""),
    ("inception_v3", "299x299x3", "aux_logits=False init_weights=False"),
    ("googlenet", "224x224x3", "aux_logits=False init_weights=False"),
    ("convnext_tiny", "224x224x3", ""),
    ("vit_b_16", "224x224x3", ""),
    ("swin_t", "224x224x3", ""),
    ("r3d_18", "16x112x112x3", ""),
    ("mnasnet1_0", "224x224x3", ""),
    ("alexnet", "224x224x3", ""),
    ("wide_resnet50_2", "224x224x3", ""),
    ("vgg16_bn", "224x224x3", ""),
]

BLOCKED: dict[str, str] = {}
"""Models that cannot be imported yet, with the op that blocks each."""


def _ref(name: str, extra: str):
    return parse_model(["torch:torchvision.models:get_model", f"name={name}", *extra.split()])


def _model(name: str, extra: str):
    return load(_ref(name, extra))


def _meta_figures(model, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """MACs (FLOPs / 2, torchvision's _ops) and the output shape, on a meta input."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    counter = FlopCounterMode(display=False)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused kernel is not counted
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter:
            out = model(torch_input(shape))
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return counter.get_total_flops() // 2, tuple(out.shape[1:])


@pytest.mark.parametrize(("name", "shape", "extra"), MODELS, ids=[m[0] for m in MODELS])
def test_import_matches_the_model(name: str, shape: str, extra: str) -> None:
    if name in BLOCKED:
        pytest.skip(BLOCKED[name])
    input_shape = parse_shape(shape)
    try:
        emitted = import_model(_ref(name, extra), input_shape)
    except UnsupportedOp as error:
        pytest.fail(f"cannot import {name}: {error}")
    breakdown = analyse(emitted.text)
    model = _model(name, extra)
    counts = figures(model)
    macs, out = _meta_figures(model, input_shape)
    totals = breakdown.totals
    assert (totals.trainable_params, totals.non_trainable_params, totals.macs) == (counts["params"], counts["buffers"], macs)
    assert breakdown.output_shape == out
    assert len(emitted.paths) == sum(1 for row in breakdown.rows if row.kind == "layer")
    assert all(len(line) < 200 for line in emitted.text.splitlines())


@pytest.mark.parametrize("name", ["resnet18", "vgg16"])
def test_round_trip_through_the_gallery_spec(name: str) -> None:
    """The imported spec and the hand-written one give the same rows with figures."""
    result = check((GALLERY / f"{name}.cnn").read_text(encoding="utf-8"), _ref(name, ""))
    assert result.ok, result.message
    imported = import_model(_ref(name, ""), (224, 224, 3))
    lines = [line for line in imported.text.splitlines() if line.strip() and not line.startswith("#")]
    written = [line for line in (GALLERY / f"{name}.cnn").read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) <= 1.5 * len(written), imported.text
    if name == "vgg16":  # its five stages, one define, the modules in comments
        assert "define stage" in imported.text and "# features.0-4" in imported.text, imported.text


def test_check_catches_one_channel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = (GALLERY / "vgg16.cnn").read_text(encoding="utf-8")
    good = tmp_path / "vgg16.cnn"
    good.write_text(spec, encoding="utf-8")
    model = ["torch:torchvision.models:get_model", "name=vgg16"]
    assert main(["check", str(good), "--against", *model]) == 0
    assert "matches the model" in capsys.readouterr().out
    bad = tmp_path / "bad.cnn"
    bad.write_text(spec.replace("fc7: fc-4096", "fc7: fc-4095"), encoding="utf-8")
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "fc-4095" in text)
    assert main(["check", str(bad), "--against", *model]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:{line}:" in err and "classifier.3" in err, err


def test_unsupported_op_names_the_module() -> None:
    class Odd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.head = torch.nn.Conv2d(8, 8, 1)

        def forward(self, x):
            return self.head(torch.sin(self.conv(x)))

    with pytest.raises(UnsupportedOp, match=r"sin"):
        import_module(Odd(), (8, 8, 3))
    emitted = import_module(Odd(), (8, 8, 3), allow_partial=True)
    assert "# unsupported:" in emitted.text and "sin" in emitted.text
    assert analyse(emitted.text).totals.params == sum(p.numel() for p in Odd().parameters())


def test_import_cli_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "r18.cnn"
    assert main(["import", "torch:torchvision.models:get_model", "name=resnet18", "--input", "64x64x3", "-o", str(out)]) == 0
    assert analyse(out.read_text()).totals.trainable_params == 11_689_512
