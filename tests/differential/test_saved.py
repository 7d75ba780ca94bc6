"""Saved for backward and optimizer state against PyTorch (issue 12).

The measure (:mod:`saved`): a pack hook of ``torch.autograd.graph.saved_tensors_hooks``,
one forward pass of ``model.train()``, the bytes of the distinct non-parameter storages
packed. The engine's ``saved_bytes()`` must equal it exactly on torchvision's builders
and on random specs, at batch 1 and batch 8. Every spec is priced by the engine first
and built only when it fits the memory budget at batch 8 (``BUDGET_BYTES // 8`` at
batch 1), so nothing here can exhaust a CI machine.
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

import os
from pathlib import Path

import torch
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st

from budget import BUDGET_BYTES, fits
from saved import saved_bytes, saved_storages
from specgen import specs
from sphinx_cnntable.engine import analyse
from sphinx_cnntable.training import OPTIMIZERS, training_memory
from translate import to_torch, translate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("CNNTABLE_TORCH_SAVED_EXAMPLES", "200"))
SEED = int(os.environ["CNNTABLE_TORCH_SEED"])
BATCHES = (1, 8)

MODELS = {
    "vgg16": ROOT / "docs" / "specs" / "vgg16-train.cnn",
    "resnet18": ROOT / "docs" / "gallery" / "specs" / "resnet18.cnn",
    "resnet50": ROOT / "tests" / "data" / "resnet50.cnn",
    "mobilenet_v2": ROOT / "docs" / "gallery" / "specs" / "mobilenet_v2.cnn",
    "densenet121": ROOT / "tests" / "data" / "densenet121.cnn",
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torchvision_saved_bytes(name: str) -> None:
    from torchvision_models import builder

    model = builder(name)
    text = MODELS[name].read_text()
    for batch in BATCHES:
        torch.manual_seed(0)
        measured = saved_bytes(model, torch.randn(batch, 3, 224, 224))
        assert analyse(text, batch=batch).totals.saved_bytes() == measured, (name, batch)


GALLERY = ("convnext_tiny", "efficientnet_b0", "googlenet", "inception_v3", "mnasnet1_0", "mobilenet_v3_large",
           "r3d_18", "regnet_x_400mf", "regnet_y_400mf", "resnet34", "shufflenet_v2_x1_0", "swin_t", "vit_b_16",
           "wide_resnet50_2")
"""The gallery's specs of torchvision builders that describe training (their dropout and
stochastic depth as the builder sets them); the VGG and AlexNet ones leave the
classifier's ReLUs and dropout out (docs/specs/vgg16-train.cnn is VGG-16's)."""
BUILDER_ARGUMENTS = {"googlenet": {"aux_logits": False, "init_weights": False},
                     "inception_v3": {"aux_logits": False, "init_weights": False}}


@pytest.mark.parametrize("name", GALLERY)
def test_gallery_saved_bytes(name: str) -> None:
    """torchvision's own modules (ConvNeXt's LayerNorm2d, Swin's shifted windows, ViT's
    fused attention, stochastic depth): exact at batch 1 and 2."""
    import torchvision_models  # noqa: F401  (torchvision without its compiled ops)
    import torchvision

    model = torchvision.models.get_model(name, weights=None, **BUILDER_ARGUMENTS.get(name, {}))
    text = (ROOT / "docs" / "gallery" / "specs" / f"{name}.cnn").read_text()
    shape = analyse(text).input_shape
    for batch in (1, 2):
        torch.manual_seed(0)
        measured = saved_bytes(model, torch.randn(batch, shape[-1], *shape[:-1]))
        assert analyse(text, batch=batch).totals.saved_bytes() == measured, (name, batch)


def test_published_figures() -> None:
    """The issue's figures: ResNet-18 at batch 1 and 2, and VGG-16 without torchvision's
    adaptive average pooling (which keeps pool5's 7*7*512 float32 values more)."""
    resnet18 = MODELS["resnet18"].read_text()
    assert analyse(resnet18).totals.saved_bytes() == 22_256_640
    assert analyse(resnet18, batch=2).totals.saved_bytes() == 44_436_480
    vgg = MODELS["vgg16"].read_text()
    without_pool = vgg.replace("avgpool: avgpool1\n", "")
    assert analyse(without_pool).totals.saved_bytes() == 73_254_912
    assert analyse(vgg).totals.saved_bytes() == 73_254_912 + 7 * 7 * 512 * 4


def oversized_deconv3d(model: torch.nn.Module) -> tuple[list[torch.Tensor], list[object]]:
    """Forward hooks that collect every ``ConvTranspose3d`` output whose storage is larger
    than the output: PyTorch's CPU reference kernel (``slow_conv_transpose3d``, chosen
    over oneDNN by a heuristic of thread count, batch, stride and kernel) allocates its
    output as ``empty_like(input)`` and shrinks it with ``resize_``, which keeps the
    input-sized storage. The engine counts the output's own size (as cuDNN and oneDNN
    allocate it); see the conventions page. Returns the list filled and the handles."""
    found: list[torch.Tensor] = []

    def hook(module: torch.nn.Module, args: object, output: torch.Tensor) -> None:
        if output.untyped_storage().nbytes() > output.numel() * output.element_size():
            found.append(output)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.ConvTranspose3d)]
    return found, handles


# 3-D convolutions whose CPU backend (oneDNN or the reference slow_conv3d /
# slow_conv_transpose3d, picked by sizes, strides and thread count) decides whether a
# channels-last input gives a channels-last output: on this machine ``Conv3d(c, 8, 1)``
# on a channels-last map answers contiguous on one thread and channels last on two.
BACKEND_CHOOSES_FORMAT = (torch.nn.Conv3d, torch.nn.ConvTranspose3d)


def channels_last_reads(model: torch.nn.Module) -> tuple[list[str], list[object]]:
    """Forward pre-hooks that note every :data:`BACKEND_CHOOSES_FORMAT` layer reading a
    5-D map laid out channels last (the channels' stride the smallest, the strides not
    a contiguous tensor's): the output of ``layernorm``, ``patchmerge`` or windowed
    attention on a 3-D map, directly or through layers that keep its format. No single
    figure exists there (it depends on the machine's thread count): an explicit
    exclusion of the random test (see the conventions page). Every other layer's format
    on a channels-last map is followed (``Effect.view == "follow"``) and tested here.
    Returns the list filled and the handles."""
    found: list[str] = []

    def hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        x = args[0]
        if x.dim() == 5 and x.stride(1) == min(x.stride()) and x.stride() != x.contiguous().stride():
            found.append(type(module).__name__)

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, BACKEND_CHOOSES_FORMAT)]
    return found, handles


def measured(text: str, batch: int) -> int | None:
    """The measure for ``text`` at ``batch``; None where PyTorch's autograd refuses the
    network (an in-place activation on a view of ``chunk``, first in a ``split:`` body;
    a training-mode batch norm of one value per channel, a vector at batch 1), and where
    a later layer keeps the oversized storage of a 3-D transposed convolution run by
    PyTorch's CPU reference kernel (:func:`oversized_deconv3d`), and where a convolution,
    pooling, batch or group norm, upsampling, padding or global attention reads a channels-last map
    (:func:`channels_last_reads`); both explicit exclusions."""
    net = translate(text)
    torch.manual_seed(0)
    x = torch.randn(batch, *to_torch(net.input_shape))
    oversized, handles = oversized_deconv3d(net.module)
    channels_last, more = channels_last_reads(net.module)
    handles += more
    try:
        storages = saved_storages(net.module, x)
        if {t.untyped_storage().data_ptr() for t in oversized} & storages.keys() or channels_last:
            return None
        return sum(size for size, _ in storages.values())
    except RuntimeError as error:
        if "is a view and is being modified inplace" in str(error):
            return None
        raise
    except ValueError as error:
        if "Expected more than 1 value per channel when training" in str(error):
            return None
        raise
    finally:
        for handle in handles:
            handle.remove()
        oversized.clear()


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(specs())
def test_random_specs_saved_bytes(text: str) -> None:
    assume(fits(text, BUDGET_BYTES // max(BATCHES)))
    for batch in BATCHES:
        want = measured(text, batch)
        assume(want is not None)
        assert analyse(text, batch=batch).totals.saved_bytes() == want, f"batch {batch}\n{text}"


CHANNELS_LAST_READERS = ("conv3-4", "dwconv3", "deconv2-4/2", "conv3-4 pad=same", "bn", "maxpool", "avgpool",
                         "gap", "groupnorm groups=2", "instancenorm", "upsample2", "upsample2 mode=bilinear",
                         "pixelshuffle2", "pixelunshuffle2", "shuffle groups=2", "zeropad1", "lrn", "relu", "gelu")


@pytest.mark.parametrize("layer", CHANNELS_LAST_READERS)
def test_layers_reading_a_channels_last_map(layer: str) -> None:
    """Each layer on ``layernorm``'s channels-last output, then ``fc`` (which keeps a view
    of a contiguous map and a copy of a channels-last one): the engine follows the
    memory format PyTorch gives the layer's output (``suggest_memory_format``), and
    group norm keeps its channels-last input itself; exact at batch 1 and 8."""
    text = f"input 8x8x3\nconv1-4\nlayernorm\n{layer}\nrelu\nfc-3\n"
    for batch in BATCHES:
        assert analyse(text, batch=batch).totals.saved_bytes() == measured(text, batch), (layer, batch)


SMALL = """\
input 16x16x3
conv3-8
bn
relu
maxpool
conv3-16 bias=no
bn
relu
gap
fc-10
"""


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
def test_optimizer_state(optimizer: str) -> None:
    """torch.optim's state after one step: the tensors on the parameters' device of the
    parameters' shape (momentum buffers, exp_avg, exp_avg_sq); Adam's ``step`` counters
    are CPU scalars unless ``capturable``/``fused``, left out of the estimate."""
    net = translate(SMALL)
    model = net.module.train()
    params = [p for p in model.parameters() if p.requires_grad]
    make = {
        "sgd": lambda: torch.optim.SGD(params, lr=0.1),
        "momentum": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        "adam": lambda: torch.optim.Adam(params),
        "adamw": lambda: torch.optim.AdamW(params),
    }[optimizer]
    opt = make()
    model(torch.randn(2, *to_torch(net.input_shape))).sum().backward()
    opt.step()
    state = sum(t.untyped_storage().nbytes() for p in params for t in opt.state[p].values()
                if isinstance(t, torch.Tensor) and t.shape == p.shape)
    memory = training_memory(analyse(SMALL), optimizer)
    assert memory.optimizer_bytes == state
    assert memory.gradient_bytes == sum(p.grad.untyped_storage().nbytes() for p in params)
    buffers = sum(b.untyped_storage().nbytes() for name, b in model.named_buffers() if "running" in name)
    assert memory.parameter_bytes == sum(p.untyped_storage().nbytes() for p in model.parameters()) + buffers
    assert set(OPTIMIZERS) >= {"none", "sgd", "momentum", "adam", "adamw"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU: the max_memory_allocated check needs one")
@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_gpu_training_step_within_ten_percent(name: str) -> None:
    """One SGD-with-momentum step at batch 32 on the GPU: ``max_memory_allocated`` within
    10% of the estimate (parameters, gradients, optimizer state, saved activations).
    The loop is PyTorch's default one: ``zero_grad()`` sets the gradients to None, so
    the backward pass stores each new gradient instead of adding it into a kept one
    (with ``set_to_none=False`` the largest gradient, VGG-16's fc6 at 411 MB, exists
    twice for a moment; ``benchmarks/training_peak.py`` measures both on the CPU)."""
    from torchvision_models import builder

    device = torch.device("cuda")
    model = builder(name).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(32, 3, 224, 224, device=device)
    model(x).sum().backward()  # warm-up: cuDNN picks its algorithms, the state is created
    opt.step()
    opt.zero_grad()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    model(x).sum().backward()
    opt.step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    estimate = training_memory(analyse(MODELS[name].read_text(), batch=32), "momentum").total_bytes
    assert abs(peak - estimate) <= 0.10 * estimate, (peak, estimate)


# Per row: sequential chains (no merges), each row's saved bytes against the storages first
# packed while that row's module runs (forward pre/post hooks bracket the pack calls; a
# storage counts once, at the first module that packs it).

SPATIAL = ("conv3-{n}", "conv1-{n}", "conv3-{n} bias=no", "bn", "relu", "relu inplace=no", "maxpool",
           "dropout p=0.5")
TAIL = ("relu", "dropout p=0.5", "fc-{n}", "relu inplace=no")


@st.composite
def chains(draw: st.DrawFn) -> str:
    size = draw(st.integers(2, 12))
    lines = [f"input {size}x{size}x{draw(st.integers(1, 4))}"]
    for _ in range(draw(st.integers(1, 7))):
        layer = draw(st.sampled_from(SPATIAL))
        if (layer.startswith("conv3") and size < 3) or (layer == "maxpool" and size < 2):
            continue
        size = size - 2 if layer.startswith("conv3") else size // 2 if layer == "maxpool" else size
        lines.append(layer.format(n=draw(st.integers(1, 6))))
    if draw(st.booleans()):
        lines.append(f"fc-{draw(st.integers(1, 8))}")
        lines += [layer.format(n=draw(st.integers(1, 8))) for layer in draw(st.lists(st.sampled_from(TAIL), max_size=3))]
    return "\n".join(lines) + "\n"


def packed_per_row(model: torch.nn.Module, x: torch.Tensor) -> list[int]:
    """Per row module (translate's ``Leaf``, in forward order): the bytes of the
    non-parameter storages first packed while it runs."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    rows: list[int] = []
    current: list[int] = []
    seen: set[int] = set()
    keep: list[torch.Tensor] = []

    def pre(module: torch.nn.Module, args: object) -> None:
        rows.append(0)
        current.append(len(rows) - 1)

    def post(module: torch.nn.Module, args: object, output: object) -> None:
        current.pop()

    def pack(tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        keep.append(tensor)
        if pointer not in params and pointer not in seen:
            seen.add(pointer)
            assert current, "a tensor packed outside every row's module"
            rows[current[-1]] += storage.nbytes()
        # None, as saved.saved_storages packs: returning the tensor makes a reference cycle

    leaves = [m for m in model.modules() if type(m).__name__ == "Leaf"]
    handles = [h for m in leaves for h in (m.register_forward_pre_hook(pre), m.register_forward_hook(post))]
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda packed: packed):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        keep.clear()
    return rows


@seed(SEED)
@settings(max_examples=max(50, EXAMPLES // 4), deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_sequential_rows_saved_bytes(text: str) -> None:
    net = translate(text)
    for batch in BATCHES:
        torch.manual_seed(0)
        x = torch.randn(batch, *to_torch(net.input_shape))
        try:
            measured_rows = packed_per_row(net.module, x)
        except ValueError as error:
            assume("Expected more than 1 value per channel when training" not in str(error))
            raise
        rows = [row for row in analyse(text, batch=batch).rows if row.kind == "layer"]
        assert len(rows) == len(measured_rows), text
        engine_rows = [row.saved_bytes() for row in rows]
        assert engine_rows == measured_rows, f"batch {batch}\n{text}"
