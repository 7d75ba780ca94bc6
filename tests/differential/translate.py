"""Translate a spec into ``torch.nn`` modules, independently of the engine's arithmetic.

Only the layout parser (:func:`sphinx_cnntable.spec.parse`: lines, indentation, labels,
``xN``) is shared with the engine. What a layer line means, placeholders, ``default``,
user blocks, repeats and merges are read here again, with PyTorch's semantics, and every
shape comes from running the modules: nothing is computed with the engine's formulas.

Named tensors are PyTorch tensors kept in a dict while the network runs: a labelled
statement is followed by a :class:`Store` of its output, ``from NAME`` is a :class:`Load`
that returns it (the latest one so labelled), and a ``side:`` block is a :class:`Side`
that runs its body and hands its own input on.

``translate(text)`` builds the network on a zeros input and returns a :class:`Net`. Each
module that stands for one engine row (a layer row or a merge row) is tagged with
``row_kind`` ("layer" or "merge") and ``row_text``; :func:`measure` runs the network once
and returns one :class:`Record` per tagged module in execution order, which is the
engine's reading order of its layer and merge rows.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from sphinx_cnntable.spec import (
    BlockStatement,
    DefaultStatement,
    DefineStatement,
    InputStatement,
    LayerStatement,
    Statement,
    parse,
)

_ELEMENTWISE = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leakyrelu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "hswish": nn.Hardswish,
    "hardswish": nn.Hardswish,
    "hsigmoid": nn.Hardsigmoid,
    "hardsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}
_IN_PLACE = ("relu", "relu6", "leakyrelu", "elu", "silu", "swish", "hswish", "hardswish", "hsigmoid", "hardsigmoid")
_FAMILY = {"conv": "conv", "dwconv": "conv", "deconv": "conv", "convt": "conv", "upconv": "conv", "fc": "fc",
           "linear": "fc", "dense": "fc", "maxpool": "pool", "avgpool": "pool", "pool": "pool", "bn": "norm",
           "batchnorm": "norm", "patch": "conv", "attention": "fc", "mhsa": "fc", "selfattention": "fc",
           "layernorm": "norm", "ln": "norm", "groupnorm": "norm", "gn": "norm", "instancenorm": "norm",
           "layerscale": "norm"}


class Seq(nn.Module):
    def __init__(self, items: list[nn.Module]) -> None:
        super().__init__()
        self.items = nn.ModuleList(items)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for item in self.items:
            x = item(x)
        return x


class Merge(nn.Module):
    """``add:`` / ``concat:`` (channels are dim 1) / ``residual:`` (body(x) + x) /
    ``scale:`` (x * body(x), squeeze-and-excitation) / ``split:`` (x1, x2 = x.chunk(2);
    cat(x1, body(x2)), ShuffleNetV2)."""

    ROWS = {"concat": "concat", "split": "concat", "scale": "multiply"}

    def __init__(self, mode: str, branches: list[nn.Module]) -> None:
        super().__init__()
        self.mode = mode
        self.branches = nn.ModuleList(branches)
        self.row_kind, self.row_text = "merge", self.ROWS.get(mode, "add")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "split":
            kept, rest = x.chunk(2, dim=1)
            return torch.cat([kept, self.branches[0](rest)], dim=1)
        if self.mode == "scale":
            weights = self.branches[0](x)
            if weights.dim() == 2:  # an fc excitation: (N, C)
                weights = weights.reshape(*weights.shape, *([1] * (x.dim() - 2)))
            if weights.shape[1] != x.shape[1] or any(size != 1 for size in weights.shape[2:]):
                raise ValueError(f"scale: the body gives {tuple(weights.shape)} for {tuple(x.shape)}")
            return x * weights
        outs = [branch(x) for branch in self.branches]
        if self.mode == "residual":
            outs.append(x)
        if self.mode != "concat" and any(out.shape != outs[0].shape for out in outs):
            # PyTorch would broadcast (a 1-channel map onto a 2-channel one) and run;
            # an element-wise sum of different shapes is a spec error, as in the engine.
            raise ValueError(f"{self.mode}: shapes differ: {[tuple(out.shape) for out in outs]}")
        if self.mode == "concat":
            return torch.cat(outs, dim=1)
        total = outs[0]
        for out in outs[1:]:
            total = total + out
        return total


class Store(nn.Module):
    """Keep the tensor passing through under ``name`` (a labelled statement's output)."""

    def __init__(self, tensors: dict[str, torch.Tensor], name: str) -> None:
        super().__init__()
        self.tensors, self.name = tensors, name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.tensors[self.name] = x
        return x


class Load(nn.Module):
    """``from NAME``: the tensor stored under ``name``, whatever comes in."""

    def __init__(self, tensors: dict[str, torch.Tensor], name: str) -> None:
        super().__init__()
        self.tensors, self.name = tensors, name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tensors[self.name]


class Side(nn.Module):
    """``side:``: run the body (a side output) and pass the input on unchanged."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.body(x)
        return x


class Crop(nn.Module):
    """Drop ``(before, after)`` elements of every spatial axis."""

    def __init__(self, margins: list[tuple[int, int]]) -> None:
        super().__init__()
        self.margins = margins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = [slice(None), slice(None)]
        for axis, (before, after) in enumerate(self.margins):
            index.append(slice(before, x.shape[2 + axis] - after))
        out = x[tuple(index)]
        if 0 in out.shape:  # slicing would give an empty map and go on; a crop to nothing is an error
            raise ValueError(f"crop: nothing left of {tuple(x.shape)}")
        return out


class Pad(nn.Module):
    """Zero padding of every spatial axis: ``pads`` is ``(before, after)`` per axis."""

    def __init__(self, pads: list[tuple[int, int]]) -> None:
        super().__init__()
        self.pads = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x, self.pads)


class ChannelsLast(nn.Module):
    """``inner`` on the channels-last view of an NC* tensor (``nn.Linear``, ``nn.LayerNorm``
    and torchvision's Swin modules work on the last axis), back to NC* after."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.movedim(1, -1)).movedim(-1, 1)


class ClassToken(nn.Module):
    """ViT's ``class_token``: a learned (1, C, 1) token put in front of the sequence."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError("translate: a class token needs a token sequence")
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=2)


class SelectFirst(nn.Module):
    """``x[:, 0]`` of a (B, N, C) sequence, here (B, C, N)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError("translate: selecting the class token needs a token sequence")
        return x[:, :, 0]


class PositionEmbedding(nn.Module):
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(shape) < 2:
            raise ValueError("translate: a position embedding needs tokens or a map")
        self.embedding = nn.Parameter(torch.zeros(1, *shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention`` over every position of an NC* tensor (batch_first tokens)."""

    def __init__(self, channels: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(channels, heads, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)
        out, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return out.transpose(1, 2).reshape(x.shape)


class Counted(nn.Module):
    """Runs ``inner`` under ``FlopCounterMode`` (fast path off, SDPA's math backend, so the
    attention matmuls are counted); ``macs`` holds the last run's FLOPs / 2. With
    ``flash`` (``backend=flash``) the counting run is a second one without gradients, and
    the run that returns uses SDPA's fused kernel (whose matmuls the counter misses)."""

    def __init__(self, inner: nn.Module, flash: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.flash = flash
        self.macs = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fastpath = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.flash):
                with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
                    out = self.inner(x.detach() if self.flash else x)
            if self.flash:
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    out = self.inner(x)
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
        self.macs = counter.get_total_flops() // 2
        return out


def _swin():
    """torchvision's Swin building blocks (its compiled ops are not needed)."""
    import sys
    import types

    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    from torchvision.models import swin_transformer

    return swin_transformer


class PatchMerge(nn.Module):
    """torchvision's ``_patch_merging_pad`` on a channels-last image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _swin()._patch_merging_pad(x)


class ChannelsLastNorm(nn.Module):
    """LayerNorm over the channels of every position (ConvNeXt's LayerNorm2d)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


class LayerScale(nn.Module):
    """A learned factor per channel (ConvNeXt's ``layer_scale``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.reshape(-1, *([1] * (x.dim() - 2)))


class Leaf(nn.Module):
    """One layer row: a module, maybe preceded by padding (TF "same") or a flatten (fc)."""

    def __init__(self, text: str, *parts: nn.Module) -> None:
        super().__init__()
        self.parts = nn.Sequential(*parts)
        self.row_kind, self.row_text = "layer", text

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.parts(x)


@dataclass
class Net:
    module: nn.Module
    input_shape: tuple[int, ...]  # (*spatial, C) or (N,)

    def zeros(self) -> torch.Tensor:
        return torch.zeros(1, *to_torch(self.input_shape))


@dataclass
class Record:
    kind: str
    text: str
    shape: tuple[int, ...]  # engine order: (*spatial, C) or (N,)
    trainable: int
    non_trainable: int
    macs: int


def to_torch(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Engine order (channels last) to PyTorch's (channels first), without the batch."""
    return shape if len(shape) == 1 else (shape[-1], *shape[:-1])


def to_engine(shape: torch.Size) -> tuple[int, ...]:
    dims = tuple(shape)[1:]
    return dims if len(dims) == 1 else (*dims[1:], dims[0])


# --- placeholders ----------------------------------------------------------------


def _eval(expr: str, env: dict[str, int]) -> int:
    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id.lower()]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.FloorDiv):
                return a // b
            if isinstance(node.op, ast.Mod):
                return a % b
            if isinstance(node.op, ast.Div):
                assert a % b == 0, f"inexact {expr}"
                return a // b
        raise ValueError(f"cannot evaluate {expr!r}")

    return walk(ast.parse(expr, mode="eval"))


def substitute(text: str, env: dict[str, int]) -> str:
    # ``in`` is a Python keyword: rename it for ast.
    return re.sub(r"\{([^{}]*)\}", lambda m: str(_eval(re.sub(r"\bin\b", "in_", m.group(1)), env)), text)


# --- layers --------------------------------------------------------------------


_RANK = [0]  # spatial axes of the layer being translated (set by layer_module)


def _pair(text: str) -> tuple[int, ...]:
    """``3`` for every axis or one size per axis (the name stays from the 2-D days)."""
    parts = tuple(int(p) for p in text.lower().split("x"))
    if len(parts) == 1:
        return parts * _RANK[0]
    if len(parts) != _RANK[0]:
        raise ValueError(f"translate: {text} has {len(parts)} axes, the input {_RANK[0]}")
    return parts


def _same_pad(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> Pad:
    """TensorFlow's "same": out = ceil(in/stride), the odd pixel of padding at the end."""
    pads = []
    for axis in range(len(size)):
        out = -(-size[axis] // stride[axis])
        total = max((out - 1) * stride[axis] + kernel[axis] - size[axis], 0)
        pads.append((total // 2, total - total // 2))
    return Pad(pads)


def _nd(name: str, rank: int) -> type[nn.Module]:
    """``nn.Conv1d`` / ``nn.Conv2d`` / ``nn.Conv3d`` (and the same for pools, norms)."""
    return getattr(nn, f"{name}{rank}d")


def layer_module(text: str, x: torch.Tensor, defaults: dict[str, dict[str, str]]) -> Leaf:
    """The module for one layer line applied to ``x`` (NCHW or NC)."""
    words = text.split()
    head = words[0].lower()
    options = {}
    for word in words[1:]:
        if "=" in word:
            key, value = word.split("=", 1)
            options[key.lower()] = value
    positional = [w for w in words[1:] if "=" not in w]
    written = dict(options)  # sizes and margins of the resampling layers: never from a default
    stem = re.match(r"^[a-z]+", head).group(0)
    family = _FAMILY.get(stem, "activation" if head in _ELEMENTWISE or head in ("softmax", "dropout", "lrn", "droppath", "stochasticdepth") else "other")
    for scope in ("all", family):
        for key, value in defaults.get(scope, {}).items():
            options.setdefault(key, value)
    bias = options.get("bias", "yes").lower() in ("yes", "true", "on", "1")
    channels = x.shape[1]
    size = tuple(x.shape[2:]) if x.dim() > 2 else None
    rank = _RANK[0] = len(size) if size else 0
    spatial_only = ("conv", "dwconv", "deconv", "convt", "upconv", "maxpool", "avgpool", "pool", "gap", "gmp",
                    "globalavgpool", "globalmaxpool", "lrn", "upsample", "upsampling", "pixelshuffle",
                    "pixelunshuffle", "zeropad", "zeropadding", "crop", "cropping")
    if size is None and stem in spatial_only:
        # PyTorch would read an (N, C) tensor as an unbatched image; the spec language does not.
        raise ValueError(f"translate: {head} needs an image, not a vector")

    m = re.match(r"^(dwconv|deconv|convt|upconv|conv)(\w+?)(?:-(\w+?))?(?:/(\w+))?$", head)
    if m and (m.group(1) == "dwconv") == (m.group(3) is None):
        kind, kernel, stride = m.group(1), _pair(m.group(2)), _pair(m.group(4) or "1")
        stride = _pair(options.get("stride", "x".join(map(str, stride))))
        dilation = _pair(options.get("dilation", "1"))
        span = tuple(dilation[a] * (kernel[a] - 1) + 1 for a in range(rank))
        pad_text = options.get("pad")
        pre: list[nn.Module] = []
        if pad_text is None:
            padding = tuple(dilation[a] * (kernel[a] - 1) // 2 for a in range(rank))
        elif pad_text == "same":
            pre.append(_same_pad(size, span, stride))
            padding = (0,) * rank
        elif pad_text == "valid":
            padding = (0,) * rank
        else:
            padding = _pair(pad_text)
        if kind == "dwconv":
            mult = int(options.get("mult", "1"))
            conv = _nd("Conv", rank)(channels, channels * mult, kernel, stride, padding, dilation, groups=channels, bias=bias)
        elif kind == "conv":
            conv = _nd("Conv", rank)(channels, int(m.group(3)), kernel, stride, padding, dilation,
                             groups=int(options.get("groups", "1")), bias=bias)
        else:
            conv = _nd("ConvTranspose", rank)(channels, int(m.group(3)), kernel, stride, padding,
                                      output_padding=_pair(options.get("outpad", "0")),
                                      groups=int(options.get("groups", "1")), bias=bias, dilation=dilation)
        return Leaf(text, *pre, conv)
    m = re.match(r"^patch(\d\w*?)-(\w+)$", head)
    if m:
        kernel = _pair(m.group(1))
        conv = _nd("Conv", rank)(channels, int(m.group(2)), kernel, kernel, 0, bias=bias)
        return Leaf(text, conv, nn.Flatten(2))
    if head in ("tokens", "totokens"):
        if size is None:
            raise ValueError("translate: tokens needs a map")
        return Leaf(text, nn.Flatten(2))
    if head in ("clstoken", "classtoken"):
        return Leaf(text, ClassToken(channels))
    if head in ("selectcls", "clsselect"):
        return Leaf(text, SelectFirst())
    if head in ("posembed", "posembedding"):
        return Leaf(text, PositionEmbedding(tuple(x.shape[1:])))
    if head in ("attention", "mhsa", "selfattention"):
        if size is None:
            raise ValueError("translate: attention needs tokens or a map")
        heads = int(options["heads"])
        if "window" not in options:
            return Leaf(text, Counted(SelfAttention(channels, heads, bias), flash=options.get("backend") == "flash"))
        if rank != 2:
            raise ValueError("translate: windowed attention is checked on images only (torchvision's Swin)")
        window = list(_pair(options["window"]))
        shift = list(_pair(options.get("shift", "0")))
        attention = _swin().ShiftedWindowAttention(channels, window, shift, heads, qkv_bias=bias, proj_bias=bias)
        return Leaf(text, Counted(ChannelsLast(attention)))
    if head in ("patchmerge", "patchmerging"):
        if rank != 2:
            raise ValueError("translate: patch merging is checked on images only (torchvision's Swin)")
        return Leaf(text, ChannelsLast(PatchMerge()))
    m = re.match(r"^(maxpool|avgpool|pool)(\w*?)(?:/(\w+))?$", head)
    if m:
        kernel = _pair(m.group(2) or "2")
        stride = _pair(m.group(3)) if m.group(3) else kernel
        stride = _pair(options.get("stride", "x".join(map(str, stride))))
        ceil = options.get("ceil", "no").lower() in ("yes", "true", "on", "1")
        pad_text = options.get("pad", "0")
        pre = []
        if pad_text == "same":
            pre.append(_same_pad(size, kernel, stride))
            padding = (0,) * rank
        else:
            padding = (0,) * rank if pad_text == "valid" else _pair(pad_text)
        cls = _nd("AvgPool" if m.group(1) == "avgpool" else "MaxPool", rank)
        return Leaf(text, *pre, cls(kernel, stride, padding, ceil_mode=ceil))
    if head in ("gap", "globalavgpool"):
        return Leaf(text, _nd("AdaptiveAvgPool", rank)(1))
    if head in ("gmp", "globalmaxpool"):
        return Leaf(text, _nd("AdaptiveMaxPool", rank)(1))
    m = re.match(r"^(?:fc|linear|dense)(?:-(\w+))?$", head)
    if m:
        units = int(m.group(1) or positional[0])
        if options.get("per", "all").lower() == "token":
            if size is not None:
                # nn.Linear on every position's channels, kept channels-first: a pointwise
                # convolution (same weights, MACs and saved input; a channels-last view
                # through nn.Linear would be copied by its reshape at batch > 1, which a
                # channels-last model such as torchvision's ViT does not do)
                return Leaf(text, _nd("Conv", rank)(channels, units, 1, bias=bias))
            return Leaf(text, ChannelsLast(nn.Linear(channels, units, bias=bias)))
        return Leaf(text, nn.Flatten(), nn.Linear(math.prod(x.shape[1:]), units, bias=bias))
    m = re.match(r"^(?:upsampling|upsample)(\w*)$", head)
    if m:
        mode = options.get("mode", "nearest").lower()
        if "size" in written:
            return Leaf(text, nn.Upsample(size=_pair(written["size"]), mode=mode))
        scale = _pair(m.group(1) or written.get("scale", "2"))
        return Leaf(text, nn.Upsample(scale_factor=tuple(float(f) for f in scale), mode=mode))
    m = re.match(r"^pixel(un)?shuffle(\d+)$", head)
    if m:
        if rank != 2:  # PyTorch would read (N, C, L) as a batch of (C, L) maps
            raise ValueError(f"translate: {head} needs an HxWxC map")
        factor = int(m.group(2))
        return Leaf(text, nn.PixelUnshuffle(factor) if m.group(1) else nn.PixelShuffle(factor))
    m = re.match(r"^(zeropadding|zeropad|cropping|crop)(\w*)$", head)
    if m:
        if m.group(2):
            before = after = _pair(m.group(2))
        elif "size" in written:
            target = _pair(written["size"])
            before = tuple((n - t) // 2 for n, t in zip(size, target))
            after = tuple(n - t - b for n, t, b in zip(size, target, before))
        else:
            before, after = _pair(written.get("before", "0")), _pair(written.get("after", "0"))
        margins = list(zip(before, after))
        if m.group(1).startswith("crop"):
            if any(b < 0 or a < 0 for b, a in margins):
                raise ValueError("translate: crop to a larger size")
            return Leaf(text, Crop(margins))
        return Leaf(text, Pad(margins))
    if head in ("bn", "batchnorm"):
        return Leaf(text, _nd("BatchNorm", max(rank, 1))(channels))
    if head == "flatten":
        return Leaf(text, nn.Flatten())
    if head in ("layernorm", "ln"):
        return Leaf(text, ChannelsLastNorm(channels))
    if head in ("groupnorm", "gn"):
        if size is None:
            raise ValueError("translate: groupnorm needs an image")
        affine = options.get("affine", "yes").lower() in ("yes", "true", "on", "1")
        return Leaf(text, nn.GroupNorm(int(options["groups"]), channels, affine=affine))
    if head == "instancenorm":
        if size is None:
            raise ValueError("translate: instancenorm needs an image")
        affine = options.get("affine", "no").lower() in ("yes", "true", "on", "1")
        return Leaf(text, _nd("InstanceNorm", rank)(channels, affine=affine))
    if head == "layerscale":
        return Leaf(text, LayerScale(channels))
    if head in ("droppath", "stochasticdepth"):
        _swin()  # the torchvision import, its compiled ops skipped
        from torchvision.ops import StochasticDepth

        return Leaf(text, StochasticDepth(float(options.get("p", "0.1")), "row"))
    if head in ("shuffle", "channelshuffle"):
        return Leaf(text, nn.ChannelShuffle(int(options.get("groups", "2"))))
    if head == "softmax":
        return Leaf(text, nn.Softmax(dim=1))
    if head == "dropout":
        return Leaf(text, nn.Dropout(float(options.get("p", "0.5"))))
    if head == "lrn":
        return Leaf(text, nn.LocalResponseNorm(int(options.get("size", "5"))))
    if head in _ELEMENTWISE:
        if head in _IN_PLACE:  # relu is in place by default, as torchvision builds it
            inplace = options.get("inplace", "yes" if head == "relu" else "no").lower() in ("yes", "true", "on", "1")
            return Leaf(text, _ELEMENTWISE[head](inplace=inplace))
        return Leaf(text, _ELEMENTWISE[head]())
    raise ValueError(f"translate: unknown layer {text!r}")


# --- statements ----------------------------------------------------------------


class TooBig(Exception):
    """A tensor over ``translate``'s ``max_elements``: the spec is not built."""


class _Builder:
    def __init__(self, defines: dict[str, DefineStatement], max_elements: int | None = None) -> None:
        self.defines = defines
        self.defaults: dict[str, dict[str, str]] = {}
        self.tensors: dict[str, torch.Tensor] = {}  # filled as it is built, and again as it runs
        self.max_elements = max_elements

    def store(self, items: list[nn.Module], label: str | None, x: torch.Tensor) -> None:
        if label is not None:
            items.append(Store(self.tensors, label))
            self.tensors[label] = x

    def walk(self, statements: list[Statement], x: torch.Tensor, env: dict[str, int]) -> tuple[list[nn.Module], torch.Tensor]:
        items: list[nn.Module] = []
        for statement in statements:
            if isinstance(statement, LayerStatement):
                text = substitute(statement.text, env)
                count = 1 if statement.count is None else int(substitute(statement.count, env))
                head = text.split()[0].lower()
                if head == "from":
                    name = text.split()[1]
                    items.append(Load(self.tensors, name))
                    x = self.tensors[name]
                    self.store(items, statement.label, x)
                    continue
                for index in range(1, count + 1):
                    if self.max_elements is not None and x.numel() > self.max_elements:
                        raise TooBig(f"{x.numel():,} elements before {text!r}")
                    if head in self.defines:
                        module, x = self.call(text, x)
                    else:
                        module = layer_module(text, x, self.defaults)
                        with torch.no_grad():
                            x = module.eval()(x)
                    items.append(module)
                    if statement.label is not None:
                        self.store(items, statement.label if count == 1 else f"{statement.label}_{index}", x)
                if count > 1:
                    self.store(items, statement.label, x)
            elif isinstance(statement, DefaultStatement):
                words = substitute(statement.text, env).split()
                family = "all" if "=" in words[0] else words.pop(0).lower()
                for word in words:
                    key, value = word.split("=", 1)
                    self.defaults.setdefault(family, {})[key.lower()] = value
            elif isinstance(statement, BlockStatement):
                module, x = self.block(statement, x, env)
                items.append(module)
                if statement.kind != "side":  # a side block stores its own output
                    self.store(items, statement.label, x)
            else:
                raise AssertionError(statement)
        return items, x

    def block(self, statement: BlockStatement, x: torch.Tensor, env: dict[str, int]) -> tuple[nn.Module, torch.Tensor]:
        if statement.kind == "repeat":
            items: list[nn.Module] = []
            for _ in range(int(substitute(statement.argument or "", env))):
                more, x = self.walk(statement.body, x, env)
                items += more
            return Seq(items), x
        if statement.kind in ("group", "branch"):
            items, x = self.walk(statement.body, x, env)
            return Seq(items), x
        if statement.kind == "side":
            items, out = self.walk(statement.body, x, env)
            self.store(items, statement.label, out)
            return Side(Seq(items)), x
        if statement.kind in ("residual", "scale"):
            items, _ = self.walk(statement.body, x, env)
            module = Merge(statement.kind, [Seq(items)])
        elif statement.kind == "split":
            if x.dim() < 3 or x.shape[1] < 2:
                raise ValueError("translate: split needs a feature map of at least 2 channels")
            items, _ = self.walk(statement.body, x.chunk(2, dim=1)[1], env)
            module = Merge("split", [Seq(items)])
        else:
            branches = []
            for branch in statement.body:
                assert isinstance(branch, BlockStatement) and branch.kind == "branch"
                items, out = self.walk(branch.body, x, env)
                self.store(items, branch.label, out)
                branches.append(Seq(items))
            module = Merge(statement.kind, branches)
        with torch.no_grad():
            return module, module.eval()(x)

    def call(self, text: str, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
        words = text.split()
        define = self.defines[words[0].lower()]
        names = [name for name, _ in define.params]
        env: dict[str, int] = {}
        for position, word in enumerate(words[1:]):
            if "=" in word:
                key, value = word.split("=", 1)
                env[key.lower()] = _number(value)
            else:
                env[names[position]] = _number(word)
        for name, default in define.params:
            if name not in env:
                env[name] = _number(default)  # type: ignore[arg-type]
        env["in_"] = x.shape[1]
        items, x = self.walk(define.body, x, env)
        return Seq(items), x


def _number(text: str) -> int | str:
    """A block argument: a number, or a name (``from {skip}``)."""
    return int(text) if text.isdigit() else text


def translate(text: str, max_elements: int | None = None) -> Net:
    """The PyTorch network for ``text``; with ``max_elements``, :class:`TooBig` before a
    layer whose input holds more (for specs the engine cannot price: it refuses them)."""
    spec = parse(text)
    defines = {s.name: s for s in spec.statements if isinstance(s, DefineStatement)}
    body = [s for s in spec.statements if not isinstance(s, DefineStatement)]
    assert isinstance(body[0], InputStatement)
    shape = tuple(int(p) for p in body[0].dims.lower().split("x"))
    x = torch.zeros(1, *to_torch(shape))
    builder = _Builder(defines, max_elements)
    builder.tensors["input"] = x
    items, _ = builder.walk(body[1:], x, {})
    items.insert(0, Store(builder.tensors, "input"))
    return Net(Seq(items).eval(), shape)


# --- measuring -----------------------------------------------------------------


_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_DECONVS = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    if isinstance(module, _DECONVS):
        return module.weight.numel() * math.prod(inputs[0].shape[2:])
    if isinstance(module, _CONVS):
        return module.weight.numel() * math.prod(output.shape[2:])
    if isinstance(module, nn.Linear):  # once per token: every axis but the batch and the features
        return module.weight.numel() * math.prod(output.shape[1:-1])
    if isinstance(module, Counted):
        return module.macs
    return 0


def bn_buffers(module: nn.Module) -> int:
    return sum(m.running_mean.numel() + m.running_var.numel()
               for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


def measure(net: Net) -> list[Record]:
    """Run ``net`` once; one record per tagged module, in execution order."""
    records: list[Record] = []
    counter = [0]
    handles = []

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        counter[0] += _macs(module, inputs, output)

    def before(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        module._macs_before = counter[0]  # type: ignore[assignment]

    def after(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        own = module.row_kind == "layer"
        records.append(Record(
            kind=module.row_kind,
            text=module.row_text,
            shape=to_engine(output.shape),
            trainable=sum(p.numel() for p in module.parameters()) if own else 0,
            non_trainable=bn_buffers(module) if own else 0,
            macs=counter[0] - module._macs_before if own else 0,
        ))

    counted = {id(inner) for module in net.module.modules() if isinstance(module, Counted)
               for inner in module.inner.modules()}
    for module in net.module.modules():
        if id(module) in counted:  # inside an attention, counted by FlopCounterMode
            continue
        if isinstance(module, (*_CONVS, *_DECONVS, nn.Linear, Counted)):
            handles.append(module.register_forward_hook(count))
        if getattr(module, "row_kind", None):
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
    try:
        with torch.no_grad():
            net.module.eval()(net.zeros())
    finally:
        for handle in handles:
            handle.remove()
    return records


# --- receptive field -------------------------------------------------------------


def rf_network(net: Net) -> Net:
    """A copy for receptive-field probing: conv/linear weights 1 and biases 0, max pooling
    replaced by average pooling, element-wise layers by the identity, float64; so every
    input pixel inside a unit's receptive field gets a positive gradient."""
    import copy

    module = copy.deepcopy(net.module).double().eval()
    for leaf in [m for m in module.modules() if isinstance(m, Leaf)]:
        parts = []
        for part in leaf.parts:
            if isinstance(part, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
                rank = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(part)]
                part = _nd("AvgPool", rank)(part.kernel_size, part.stride, part.padding, ceil_mode=part.ceil_mode)
            elif isinstance(part, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
                rank = {nn.AdaptiveMaxPool1d: 1, nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3}[type(part)]
                part = _nd("AdaptiveAvgPool", rank)(1)
            elif isinstance(part, (*_CONVS, *_DECONVS, nn.Linear)):
                with torch.no_grad():
                    part.weight.fill_(1.0)
                    if part.bias is not None:
                        part.bias.zero_()
            elif not isinstance(part, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, Pad, nn.Flatten,
                                       nn.modules.batchnorm._BatchNorm, nn.AdaptiveAvgPool1d,
                                       nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
                part = nn.Identity()
            parts.append(part)
        leaf.parts = nn.Sequential(*parts).double()
    return Net(module, net.input_shape)


def axis_extents(net: Net, units: int = 1) -> list[list[tuple[int, int] | None]]:
    """Per spatial axis, for the central output index and the ``units - 1`` after it:
    the (first, last) input index along that axis with a nonzero gradient of the sum of
    the outputs at that index (a row, for the height of an image), or None where those
    outputs see no input (between the inputs of a transposed convolution)."""
    probe = rf_network(net)
    x = torch.ones(1, *to_torch(net.input_shape), dtype=torch.float64, requires_grad=True)
    y = probe.module(x)
    found: list[list[tuple[int, int] | None]] = []
    rank = y.dim() - 2
    for axis in range(rank):
        per_axis: list[tuple[int, int] | None] = []
        for offset in range(units):
            index = [slice(None)] * rank
            index[axis] = y.shape[2 + axis] // 2 + offset
            (grad,) = torch.autograd.grad(y[(0, slice(None), *index)].sum(), x, retain_graph=True)
            grad = grad.abs().sum(dim=(0, 1))
            others = tuple(a for a in range(rank) if a != axis)
            hit = torch.nonzero(grad.sum(dim=others) if others else grad).flatten()
            per_axis.append((int(hit[0]), int(hit[-1])) if len(hit) else None)
        found.append(per_axis)
    return found


def gradient_extent(net: Net) -> tuple[tuple[int, int], ...]:
    """(first, last) input index with a nonzero gradient of the central output unit, per
    spatial axis (rows and columns for an image)."""
    probe = rf_network(net)
    x = torch.ones(1, *to_torch(net.input_shape), dtype=torch.float64, requires_grad=True)
    y = probe.module(x)
    centre = tuple(size // 2 for size in y.shape[2:])
    y[(0, slice(None), *centre)].sum().backward()
    grad = x.grad.abs().sum(dim=(0, 1))
    extents = []
    for axis in range(grad.dim()):
        others = tuple(a for a in range(grad.dim()) if a != axis)
        hit = torch.nonzero(grad.sum(dim=others) if others else grad).flatten()
        extents.append((int(hit[0]), int(hit[-1])))
    return tuple(extents)


def deconv_period(net: Net) -> int:
    """The product of the transposed convolutions' strides (largest axis): outputs repeat
    what they see with at most this period."""
    return math.prod(max(m.stride) for m in net.module.modules() if isinstance(m, _DECONVS))
