"""Convolutions of any spatial rank: ``conv``, ``dwconv`` (depthwise) and ``deconv``
(transposed). Backward: each keeps its input (the weight gradient needs it). Kernel, stride, padding and dilation are written once for every axis
(``conv3-64``) or once per axis (``conv1x7-128``, ``conv3x1x1-64``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from .base import INPUT, Args, Axes, Effect, LayerError, LayerType, Saved, Shape, parse_axes, parse_int, register, show_axes
from .geometry import Padding, effective, kernel_text, parse_padding, per_axis, same_padded, spatial, windowed, windows


def reads(sizes: Axes, channels: int, kernel: Axes, stride: Axes, padding: Padding, dilation: Axes) -> tuple[Saved, ...]:
    """What a convolution or pooling window keeps for backward: its input, or with
    ``pad=same`` the zero-padded copy it reads (``F.pad`` first, as PyTorch runs
    TensorFlow's "same")."""
    if padding[0] != "same":
        return (INPUT,)
    return (Saved("new", math.prod(same_padded(sizes, kernel, stride, dilation)) * channels),)


def _read(args: Args, kernel: str, stride: str | None) -> dict[str, object]:
    return {
        "kernel": parse_axes(kernel, "the kernel"),
        "stride": args.stride(parse_axes(stride, "the stride") if stride else None, (1,)),
        "padding": parse_padding(args),
        "dilation": args.axes("dilation", (1,)),
        "bias": args.flag("bias", True),
    }


def _groups_check(head: str, c_in: int, c_out: int, groups: int) -> None:
    if c_in % groups or c_out % groups:
        raise LayerError(f"{head}: channels not divisible by groups={groups} (input {c_in}, output {c_out})")


def _resolve(
    kernel: Axes, stride: Axes, dilation: Axes, padding: Padding, sizes: Axes, head: str
) -> tuple[Axes, Axes, Axes, Padding]:
    """Kernel, stride, dilation and padding with one value per axis of ``sizes``; the
    default padding is ``floor(dilation*(kernel-1)/2)``."""
    rank = len(sizes)
    kernel = per_axis(kernel, rank, head, "the kernel")
    stride = per_axis(stride, rank, head, "the stride")
    dilation = per_axis(dilation, rank, head, "dilation=")
    mode, pad = padding
    if mode == "default":
        padding = "explicit", tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
    elif mode == "explicit":
        padding = "explicit", per_axis(pad, rank, head, "pad=")
    return kernel, stride, dilation, padding


@dataclass(frozen=True)
class _ConvBase(LayerType):
    kernel: Axes
    filters: int | None  # None: as many as the input channels (depthwise)
    stride: Axes
    padding: Padding
    dilation: Axes
    groups: int | None  # None: depthwise
    bias: bool
    multiplier: int = 1

    family: ClassVar[str] = "conv"

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, c_in = spatial(shape, head)
        groups = c_in if self.groups is None else self.groups
        c_out = c_in * self.multiplier if self.filters is None else self.filters
        _groups_check(head, c_in, c_out, groups)
        kernel, stride, dilation, padding = _resolve(self.kernel, self.stride, self.dilation, self.padding, sizes, head)
        out = windowed(head, sizes, kernel, stride, padding, dilation)
        weights = math.prod(kernel) * (c_in // groups) * c_out
        fan_in = f"{kernel_text(kernel)}*{c_in // groups}"
        return Effect(
            output_shape=(*out, c_out),
            weights=weights,
            biases=c_out if self.bias else 0,
            macs=weights * math.prod(out),
            window=windows(sizes, kernel, stride, padding, dilation),
            saves=reads(sizes, c_in, kernel, stride, padding, dilation),
            view="follow",
            formulas={
                "weights": f"({fan_in})*{c_out}",
                "biases": str(c_out) if self.bias else "0",
                "macs": f"({fan_in})*{c_out}*{kernel_text(out)}",
            },
        )


@register
@dataclass(frozen=True)
class Conv(_ConvBase):
    """``convK-F[/S]``: weights ``(prod(K)*Cin/groups)*F``, MACs weights*prod(out sizes)."""

    names: ClassVar[tuple[str, ...]] = ("conv",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^conv(\d\w*?)-(\w+?)(?:/(\w+))?$")
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "dilation", "groups", "bias"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        fields = _read(args, match.group(1), match.group(3))
        filters = parse_int(match.group(2), "the filters")
        return cls(filters=filters, groups=args.integer("groups", 1), **fields)  # type: ignore[arg-type]


@register
@dataclass(frozen=True)
class DepthwiseConv(_ConvBase):
    """``dwconvK[/S]``: groups = input channels; ``mult=`` output channels per input."""

    names: ClassVar[tuple[str, ...]] = ("dwconv",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^dwconv(\w+?)(?:/(\w+))?$")
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "dilation", "bias", "mult"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        fields = _read(args, match.group(1), match.group(2))
        return cls(filters=None, groups=None, multiplier=args.integer("mult", 1), **fields)  # type: ignore[arg-type]


@register
@dataclass(frozen=True)
class TransposedConv(LayerType):
    """``deconvK-F[/S]`` (ConvTranspose): out = (in-1)*S - 2*pad + dil*(K-1) + outpad + 1 per axis.

    Weights ``Cin*(F/groups)*prod(K)``; MACs weights*prod(in sizes) (every input element
    meets the whole kernel). Default pad floor(dil*(K-1)/2), so ``deconv4-256/2`` doubles.
    """

    kernel: Axes
    filters: int
    stride: Axes
    padding: Padding
    output_pad: Axes
    dilation: Axes
    groups: int
    bias: bool

    names: ClassVar[tuple[str, ...]] = ("deconv", "convt", "upconv")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:deconv|convt|upconv)(\w+?)-(\w+?)(?:/(\w+))?$")
    family: ClassVar[str] = "conv"
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "outpad", "dilation", "groups", "bias"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        fields = _read(args, match.group(1), match.group(3))
        if fields["padding"] == ("same", ()):
            raise LayerError(f"{args.head}: pad=same is not defined for a transposed convolution; give pad=N and outpad=N")
        return cls(
            filters=parse_int(match.group(2), "the filters"),
            output_pad=args.axes("outpad", (0,), minimum=0),
            groups=args.integer("groups", 1),
            **fields,  # type: ignore[arg-type]
        )

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, c_in = spatial(shape, head)
        _groups_check(head, c_in, self.filters, self.groups)
        kernel, stride, dilation, padding = _resolve(self.kernel, self.stride, self.dilation, self.padding, sizes, head)
        pad = padding[1]
        output_pad = per_axis(self.output_pad, len(sizes), head, "outpad=")
        if any(o >= max(s, d) for o, s, d in zip(output_pad, stride, dilation, strict=True)):
            raise LayerError(f"{head}: outpad must be smaller than the stride or the dilation")
        span = effective(kernel, dilation)
        out = tuple(
            (size - 1) * s - 2 * p + k + o for size, s, p, k, o in zip(sizes, stride, pad, span, output_pad, strict=True)
        )
        if min(out) < 1:
            raise LayerError(f"{head}: the output would be empty ({show_axes(out)}); reduce pad=")
        per_input = (self.filters // self.groups) * math.prod(kernel)
        weights = c_in * per_input
        per_input_text = f"{self.filters // self.groups}*{kernel_text(kernel)}"
        return Effect(
            output_shape=(*out, self.filters),
            weights=weights,
            biases=self.filters if self.bias else 0,
            macs=weights * math.prod(sizes),
            window=windows(sizes, kernel, stride, padding, dilation, transposed=True),
            saves=(INPUT,),
            view="follow",
            formulas={
                "weights": f"{c_in}*({per_input_text})",
                "biases": str(self.filters) if self.bias else "0",
                "macs": f"{c_in}*({per_input_text})*{kernel_text(sizes)}",
            },
        )
