"""Pooling of any spatial rank: windowed max/average pooling and global pooling.

Backward: max pooling keeps its input and the int64 index of every output's maximum,
average pooling its input, global average pooling nothing."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from .base import INPUT, Args, Axes, Effect, LayerError, LayerType, Saved, Shape, parse_axes, register, show_axes
from .conv import reads
from .geometry import Padding, parse_padding, per_axis, spatial, windowed, windows


@register
@dataclass(frozen=True)
class Pool(LayerType):
    """``maxpool``/``pool``/``avgpool`` ``[K][/S]``: window K (default 2), stride S
    (default K), ``pad=``, ``ceil=yes`` as PyTorch's ceil_mode. No parameters, 0 MACs."""

    kernel: Axes
    stride: Axes
    padding: Padding
    ceil: bool
    maximum: bool = True

    names: ClassVar[tuple[str, ...]] = ("maxpool", "avgpool", "pool")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:maxpool|avgpool|pool)(\w*?)(?:/(\w+))?$")
    family: ClassVar[str] = "pool"
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "ceil"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        kernel = parse_axes(match.group(1), "the window") if match.group(1) else (2,)
        stride = args.stride(parse_axes(match.group(2), "the stride") if match.group(2) else None, kernel)
        return cls(kernel=kernel, stride=stride, padding=parse_padding(args), ceil=args.flag("ceil", False),
                   maximum=not match.group(0).startswith("avg"))

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        rank = len(sizes)
        kernel = per_axis(self.kernel, rank, head, "the window")
        stride = per_axis(self.stride, rank, head, "the stride")
        mode, pad = self.padding
        padding: Padding = ("explicit", (0,) * rank) if mode == "default" else self.padding
        if mode == "explicit":
            padding = "explicit", per_axis(pad, rank, head, "pad=")
            if any(p > k // 2 for p, k in zip(padding[1], kernel, strict=True)):
                raise LayerError(f"{head}: pad= must be at most half the window {show_axes(kernel)}")
        out = windowed(head, sizes, kernel, stride, padding, (1,) * rank, ceil=self.ceil)
        saves = reads(sizes, channels, kernel, stride, padding, (1,) * rank)
        if self.maximum:  # and the int64 index of each output's maximum
            saves += (Saved("new", math.prod(out) * channels, "int64"),)
        # max pooling follows its input's memory format; average pooling too on a 2-D
        # map, while PyTorch's 3-D one (avg_pool3d) always returns a contiguous tensor
        follows = self.maximum or rank == 2
        return Effect(
            output_shape=(*out, channels), window=windows(sizes, kernel, stride, padding, (1,) * rank), saves=saves,
            view="follow" if follows else "",
        )


@register
@dataclass(frozen=True)
class GlobalPool(LayerType):
    """``gap`` (global average pooling) and ``gmp`` (global max): HxWxC to 1x1xC
    (LxC to 1xC, DxHxWxC to 1x1x1xC)."""

    maximum: bool = False

    names: ClassVar[tuple[str, ...]] = ("gap", "gmp", "globalavgpool", "globalmaxpool")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:gap|gmp|globalavgpool|globalmaxpool)$")
    family: ClassVar[str] = "pool"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(maximum=match.group(0) in ("gmp", "globalmaxpool"))

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        # gap (a mean) keeps nothing; gmp keeps its input and one int64 index per channel
        saves = (INPUT, Saved("new", channels, "int64")) if self.maximum else ()
        return Effect(output_shape=(*(1 for _ in sizes), channels), rf_kernel=sizes, rf_stride=sizes, saves=saves)
