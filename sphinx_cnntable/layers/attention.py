"""Token sequences and attention (ViT, Swin).

A token sequence is an ``NxC`` tensor: ``N`` tokens of ``C`` channels, the same shape as
a 1-D map of length ``N`` (so ``input 197x768`` starts from tokens). Layers here:

* ``patchK-F``: a KxK convolution of stride K and no padding, whose map is then read as
  ``H_out*W_out`` tokens (ViT's ``conv_proj``); ``tokens`` reads any map as tokens;
* ``clstoken``: a learned class token in front (+C weights, +1 token); ``selectcls``
  keeps that token alone (a vector of C); ``posembed``: a learned position embedding
  added to every token (N*C weights);
* ``attention heads=H``: multi-head self-attention over every token (or every position
  of a map); ``window=`` and ``shift=`` make it Swin's windowed attention, with its
  relative-position-bias table;
* ``patchmerge``: Swin's patch merging, 2x2 neighbours gathered into 4C channels;

MACs of attention count the four projections (query, key, value, output: 4*C*C per
token) and both attention matmuls (scores Q*K^T and the weighted sum of V: N*C per
token each), torchvision's ``_ops`` and ``FlopCounterMode``'s count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import ClassVar

from .base import (
    Args,
    Axes,
    INPUT,
    Effect,
    LayerError,
    LayerType,
    Saved,
    Shape,
    parse_axes,
    parse_int,
    register,
    show_axes,
    show_shape,
    suggest,
)
from .conv import Conv
from .geometry import per_axis, spatial


def _sequence(shape: Shape, head: str) -> tuple[int, int]:
    """Tokens and channels of an ``NxC`` sequence; a map or a vector is an error."""
    if len(shape) != 2:
        hint = "; write 'tokens' first to read a map as tokens" if len(shape) > 2 else ""
        raise LayerError(f"{head} needs a token sequence (NxC), got {show_shape(shape)}{hint}")
    return shape[0], shape[1]


@register
@dataclass(frozen=True)
class PatchEmbed(LayerType):
    """``patchK-F`` (``patchKHxKW-F``): ``convK-F/K pad=0``, then the output map read as
    ``prod(out sizes)`` tokens of F channels. Figures as that convolution's."""

    conv: Conv

    names: ClassVar[tuple[str, ...]] = ("patch",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^patch(\d\w*?)-(\w+)$")
    family: ClassVar[str] = "conv"
    keywords: ClassVar[frozenset[str]] = frozenset({"bias"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        kernel = parse_axes(match.group(1), "the patch size")
        conv = Conv(
            kernel=kernel,
            filters=parse_int(match.group(2), "the embedding width"),
            stride=kernel,
            padding=("explicit", (0,)),
            dilation=(1,),
            groups=1,
            bias=args.flag("bias", True),
        )
        return cls(conv=conv)

    def apply(self, shape: Shape, head: str) -> Effect:
        effect = self.conv.apply(shape, head)
        *out, channels = effect.output_shape
        return replace(effect, output_shape=(math.prod(out), channels), saves=(INPUT,))


@register
@dataclass(frozen=True)
class Tokens(LayerType):
    """``tokens``: a map ``(*spatial, C)`` read as ``prod(spatial)`` tokens of C channels
    (PyTorch's ``flatten(2).transpose(1, 2)``); each token keeps its receptive field."""

    names: ClassVar[tuple[str, ...]] = ("tokens", "totokens")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:tokens|totokens)$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        return Effect(output_shape=(math.prod(sizes), channels), aliases=True, view="reshape")


@register
@dataclass(frozen=True)
class ClassToken(LayerType):
    """``clstoken``: a learned token put in front of the sequence: NxC to (N+1)xC, C weights."""

    names: ClassVar[tuple[str, ...]] = ("clstoken", "classtoken")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:clstoken|classtoken)$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        tokens, channels = _sequence(shape, head)
        return Effect(output_shape=(tokens + 1, channels), weights=channels, formulas={"weights": str(channels), "biases": "0"})


@register
@dataclass(frozen=True)
class SelectClassToken(LayerType):
    """``selectcls``: the first token of the sequence alone (``x[:, 0]``): NxC to a vector of C."""

    names: ClassVar[tuple[str, ...]] = ("selectcls", "clsselect")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:selectcls|clsselect)$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        _, channels = _sequence(shape, head)
        return Effect(output_shape=(channels,), aliases=True)


@register
@dataclass(frozen=True)
class PositionEmbedding(LayerType):
    """``posembed``: a learned embedding added to every token (or map position): N*C weights."""

    names: ClassVar[tuple[str, ...]] = ("posembed", "posembedding")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:posembed|posembedding)$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        spatial(shape, head)
        return Effect(output_shape=shape, weights=math.prod(shape), formulas={"weights": show_shape(shape).replace("x", "*"), "biases": "0"})


BACKENDS = ("math", "flash")
"""The kernels of global attention the saved-for-backward rule knows (see :class:`Attention`)."""


def _global_saves(n: int, c: int, heads: int, backend: str) -> tuple[Saved, ...]:
    """What global attention over ``n`` tokens of ``c`` channels keeps: the tokens the
    in-projection reads; with ``math``, q, k^T, v's qkv projection (3NC), the softmax
    (H*N*N) and the weighted values the out-projection reads (3NC); with ``flash``, the
    qkv projection the kernel reads as q, k and v (3NC), its output, which the
    out-projection reads (NC), and one float32 log-sum-exp per head and token (H*N)."""
    if backend == "flash":
        return Saved("input-view", n * c), Saved("new", 4 * n * c), Saved("new", heads * n, "float32")
    return Saved("input-view", n * c), Saved("new", 6 * n * c + heads * n * n)


@register
@dataclass(frozen=True)
class Attention(LayerType):
    """``attention heads=H`` (also ``mhsa``, ``selfattention``): multi-head self-attention
    over the N tokens of a sequence or the N positions of a map; shape unchanged.

    Weights 4*C*C (query, key, value and output projections), biases 4*C (``bias=no``:
    none); MACs ``N*4*C*C + 2*N*N*C``. With ``window=w`` (one size or one per axis) each
    axis is padded up to a multiple of w and attention runs inside each window of
    ``W = prod(w)`` positions, as torchvision's Swin: MACs ``Np*4*C*C + 2*Np*W*C`` over
    the ``Np`` padded positions, plus a relative-position-bias table of
    ``prod(2*w - 1) * H`` weights. ``shift=`` (below the window) moves the windows:
    same figures.

    ``backend=`` names the kernel PyTorch runs for global attention, which decides only
    what the backward keeps: ``math`` (the default; ``nn.MultiheadAttention`` with its
    default ``need_weights=True``) keeps the softmax, ``flash`` (``scaled_dot_product_attention``'s
    fused kernel, which ``need_weights=False`` gets on the CPU, as torchvision's ViT and
    timm's models call it) keeps a float32 log-sum-exp per head and token instead.
    """

    heads: int
    window: Axes | None
    shift: Axes | None
    bias: bool
    backend: str = "math"

    names: ClassVar[tuple[str, ...]] = ("attention", "mhsa", "selfattention")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:attention|mhsa|selfattention)$")
    family: ClassVar[str] = "fc"
    keywords: ClassVar[frozenset[str]] = frozenset({"heads", "window", "shift", "bias", "backend"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        if "heads" not in args.options:
            raise LayerError(f"{args.head}: give the number of heads, as in {args.head} heads=8")
        window = args.axes("window", (0,)) if "window" in args.options else None
        shift = args.axes("shift", (0,), minimum=0) if "shift" in args.options else None
        if shift is not None and window is None:
            raise LayerError(f"{args.head}: shift= needs window=")
        backend = args.options.get("backend", "math").lower()
        if backend not in BACKENDS:
            raise LayerError(f"{args.head}: backend={backend!r}{suggest(backend, BACKENDS)} (one of {', '.join(BACKENDS)})")
        if backend != "math" and window is not None:
            raise LayerError(f"{args.head}: backend={backend} is for global attention (windowed attention runs its softmax "
                             "step by step, as torchvision's Swin)")
        return cls(heads=args.integer("heads", 1), window=window, shift=shift, bias=args.flag("bias", True), backend=backend)

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, c = spatial(shape, head)
        if c % self.heads:
            raise LayerError(f"{head}: {c} channels do not split into heads={self.heads}")
        weights = 4 * c * c
        biases = 4 * c if self.bias else 0
        if self.window is None:
            n = math.prod(sizes)
            return Effect(
                output_shape=shape,
                weights=weights,
                biases=biases,
                macs=n * weights + 2 * n * n * c,
                rf_kernel=sizes,
                rf_stride=(1,) * len(sizes),
                saves=_global_saves(n, c, self.heads, self.backend),
                view="tokens-major",
                formulas={
                    "weights": f"4*{c}*{c}",
                    "biases": f"4*{c}" if self.bias else "0",
                    "macs": f"{n}*4*{c}*{c} + 2*{n}*{n}*{c}",
                },
            )
        window = per_axis(self.window, len(sizes), head, "window=")
        if self.shift is not None:
            shift = per_axis(self.shift, len(sizes), head, "shift=")
            if any(s >= w for s, w in zip(shift, window, strict=True)):
                raise LayerError(f"{head}: shift={show_axes(shift)} must be smaller than window={show_axes(window)}")
        padded = tuple(-(-size // w) * w for size, w in zip(sizes, window, strict=True))
        n, per_window = math.prod(padded), math.prod(window)
        table = math.prod(2 * w - 1 for w in window) * self.heads
        table_text = "*".join(f"(2*{w}-1)" for w in window)
        return Effect(
            output_shape=shape,
            weights=weights + table,
            biases=biases,
            macs=n * weights + 2 * n * per_window * c,
            rf_kernel=tuple(min(w, size) for w, size in zip(window, sizes, strict=True)),
            padded=(*padded, c) if padded != sizes else (),
            view="channels-last",
            rf_stride=(1,) * len(sizes),
            # the padded windows, q, k^T, v (copies made by matmul's batched reshape),
            # the softmax (H*Np*W) and the weighted values; the int64 relative-position
            # index (W*W). Where matmul's reshape of k^T and v to (windows*H, ., .) is a
            # view (one head, or the whole batch one window: batch 1 and Np == W) they
            # keep the qkv projection's storage instead: 3NpC, not 2NpC
            saves=(
                Saved("new", 5 * n * c + self.heads * n * per_window),
                Saved("new", per_window * per_window, "int64", per_sample=False),
                *((Saved("new", n * c, batch_one=self.heads > 1),) if self.heads == 1 or n == per_window else ()),
            ),
            formulas={
                "weights": f"4*{c}*{c} + {table_text}*{self.heads}",
                "biases": f"4*{c}" if self.bias else "0",
                "macs": f"{n}*4*{c}*{c} + 2*{n}*{per_window}*{c}",
            },
        )


@register
@dataclass(frozen=True)
class PatchMerge(LayerType):
    """``patchmerge`` (Swin's patch merging; ``patchmerge1x2x2`` per axis): each axis is
    padded to an even size (a multiple of the factor), and each 2x2 group of positions
    is gathered into one of 4C channels. No parameters; Swin follows it with
    ``layernorm`` and ``fc-{2C} per=token bias=no``."""

    factor: Axes

    names: ClassVar[tuple[str, ...]] = ("patchmerge", "patchmerging")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:patchmerge|patchmerging)(\w*)$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(factor=parse_axes(match.group(1), "the merge factor") if match.group(1) else (2,))

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        factor = per_axis(self.factor, len(sizes), head, "the merge factor")
        out = tuple(-(-size // f) for size, f in zip(sizes, factor, strict=True))
        return Effect(output_shape=(*out, channels * math.prod(factor)), rf_kernel=factor, rf_stride=factor,
                      view="channels-last")
