"""Layers that only rearrange or resample a tensor: flatten, upsampling, pixel
shuffle, zero padding and cropping. None has parameters or MACs, and none keeps anything
for backward; ``flatten`` and ``crop`` are views of their input (their output shares its
storage)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

from .base import Args, Axes, Effect, LayerError, LayerType, Shape, parse_axes, parse_int, register, show_axes
from .geometry import AXIS_NAMES, per_axis, spatial


@register
@dataclass(frozen=True)
class Flatten(LayerType):
    """``flatten``: a feature map to a vector of its size (HxWxC to H*W*C). A vector has
    one position, so its receptive-field step takes the whole map (as ``fc`` and ``gap``
    do): a layer after ``flatten`` sees what it would see without it."""

    names: ClassVar[tuple[str, ...]] = ("flatten",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^flatten$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        whole = shape[:-1]
        return Effect(output_shape=(math.prod(shape),), rf_kernel=whole, rf_stride=whole, aliases=True, view="reshape")


@register
@dataclass(frozen=True)
class ChannelShuffle(LayerType):
    """``shuffle groups=G`` (``channelshuffle``; G defaults to 2): interleaves the
    channels of G groups (ShuffleNet); same shape, no parameters, 0 MACs."""

    groups: int

    names: ClassVar[tuple[str, ...]] = ("shuffle", "channelshuffle")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:shuffle|channelshuffle)$")
    keywords: ClassVar[frozenset[str]] = frozenset({"groups"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(groups=args.integer("groups", 2))

    def apply(self, shape: Shape, head: str) -> Effect:
        if shape[-1] % self.groups:
            raise LayerError(f"{head}: {shape[-1]} channels do not split into groups={self.groups}")
        return Effect(output_shape=shape, view="follow")


def _written(args: Args) -> Args:
    """Only the options written on the line: a size or margin never comes from a
    ``default`` (``default size=3`` is meant for ``lrn``)."""
    return Args(args.head, args.positional, {key: args.options[key] for key in args.explicit}, args.explicit)


_MODES = {"nearest": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}


@register
@dataclass(frozen=True)
class Upsample(LayerType):
    """``upsample[S]`` (``scale=S``, S per axis or one for all, default 2) or
    ``upsample size=N`` (``HxW``...): out = in*S per axis (PyTorch's ``nn.Upsample``),
    or the size given. ``mode=`` nearest (default), linear (1-D), bilinear or bicubic
    (2-D), trilinear (3-D). No parameters, 0 MACs. Receptive-field step: a window of 1
    input pixel (nearest), 2 (linear modes) or 4 (bicubic), stride in/out."""

    scale: Axes | None
    size: Axes | None
    mode: str

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:upsampling|upsample)(\w*)$")
    keywords: ClassVar[frozenset[str]] = frozenset({"scale", "size", "mode"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        mode = args.options.get("mode", "nearest").lower()
        args = _written(args)
        written = parse_axes(match.group(1), "the scale") if match.group(1) else None
        if written is not None and "scale" in args.explicit:
            raise LayerError(f"{args.head}: give the scale once (upsample2 or upsample scale=2)")
        scale = written or (args.axes("scale", (2,)) if "scale" in args.options else None)
        size = args.axes("size", (1,)) if "size" in args.options else None
        if scale is not None and size is not None:
            raise LayerError(f"{args.head}: give a scale or a size=, not both")
        if scale is None and size is None:
            scale = (2,)
        if mode not in _MODES:
            raise LayerError(f"{args.head}: mode= is one of {', '.join(_MODES)}, not {mode!r}")
        return cls(scale=scale, size=size, mode=mode)

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        rank = len(sizes)
        if rank not in _MODES[self.mode]:
            raise LayerError(f"{head}: mode={self.mode} needs a {_rank_names(_MODES[self.mode])} input, not {AXIS_NAMES[rank]}")
        if self.size is not None:
            out = per_axis(self.size, rank, head, "size=")
        else:
            out = tuple(n * s for n, s in zip(sizes, per_axis(self.scale or (), rank, head, "the scale"), strict=True))
        window = {"nearest": 1, "bicubic": 4}.get(self.mode, 2)
        return Effect(
            output_shape=(*out, channels),
            rf_kernel=tuple(min(window, n) for n in sizes),
            rf_stride=tuple(Fraction(n, o) for n, o in zip(sizes, out, strict=True)),
            view="follow",
        )


def _rank_names(ranks: tuple[int, ...]) -> str:
    return " or ".join(AXIS_NAMES[rank] for rank in ranks)


@register
@dataclass(frozen=True)
class PixelShuffle(LayerType):
    """``pixelshuffleR``: HxWx(C*R*R) to (H*R)x(W*R)xC (``nn.PixelShuffle``);
    ``pixelunshuffleR`` the inverse. 2-D feature maps only; no parameters, 0 MACs."""

    factor: int
    inverse: bool

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^pixel(un)?shuffle(\w*)$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        if not match.group(2):
            raise LayerError(f"{args.head}: give the factor, as in {args.head}2")
        return cls(factor=parse_int(match.group(2), "the factor"), inverse=bool(match.group(1)))

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        if len(sizes) != 2:
            raise LayerError(f"{head} needs an HxWxC input, not {AXIS_NAMES[len(sizes)]}xC")
        r = self.factor
        if self.inverse:
            if any(n % r for n in sizes):
                raise LayerError(f"{head}: the height and width {show_axes(sizes)} are not divisible by {r}")
            out = (*(n // r for n in sizes), channels * r * r)
            return Effect(output_shape=out, rf_kernel=(r, r), rf_stride=(r, r), view="follow")
        if channels % (r * r):
            raise LayerError(f"{head}: {channels} channels are not divisible by {r}*{r}")
        out = (*(n * r for n in sizes), channels // (r * r))
        return Effect(output_shape=out, rf_kernel=(1, 1), rf_stride=(Fraction(1, r), Fraction(1, r)), view="follow")


def _margins(match_text: str, args: Args, verb: str) -> tuple[Axes, Axes]:
    """``N`` or ``HxW`` in the name (both sides of each axis), or ``before=`` and ``after=``."""
    if match_text:
        if "before" in args.explicit or "after" in args.explicit:
            raise LayerError(f"{args.head}: give the margins in the name or as before=/after=, not both")
        both = parse_axes(match_text, f"the {verb}", minimum=0)
        return both, both
    if "before" not in args.options and "after" not in args.options:
        raise LayerError(f"{args.head}: give the margins, as in {args.head}1, {args.head}1x2 or {args.head} before=0 after=1")
    return args.axes("before", (0,), minimum=0), args.axes("after", (0,), minimum=0)


@register
@dataclass(frozen=True)
class ZeroPad(LayerType):
    """``zeropadN`` / ``zeropadHxW`` (both sides of each axis) or ``zeropad before=…
    after=…``: out = in + before + after per axis. No parameters, 0 MACs."""

    before: Axes
    after: Axes

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:zeropadding|zeropad)(\w*)$")
    keywords: ClassVar[frozenset[str]] = frozenset({"before", "after"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        before, after = _margins(match.group(1), _written(args), "padding")
        return cls(before=before, after=after)

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        rank = len(sizes)
        before = per_axis(self.before, rank, head, "before=")
        after = per_axis(self.after, rank, head, "after=")
        out = tuple(n + b + a for n, b, a in zip(sizes, before, after, strict=True))
        return Effect(output_shape=(*out, channels), rf_kernel=(1,) * rank, rf_stride=(1,) * rank, view="follow")


@register
@dataclass(frozen=True)
class Crop(LayerType):
    """``cropN`` / ``cropHxW`` (both sides of each axis), ``crop before=… after=…``, or
    ``crop size=HxW`` (a centred crop to that size, as U-Net's original copy-and-crop):
    out = in - before - after per axis. No parameters, 0 MACs."""

    before: Axes
    after: Axes
    size: Axes | None

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:cropping|crop)(\w*)$")
    keywords: ClassVar[frozenset[str]] = frozenset({"before", "after", "size"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        args = _written(args)
        if "size" in args.options:
            if match.group(1) or "before" in args.options or "after" in args.options:
                raise LayerError(f"{args.head}: give size= or the margins, not both")
            return cls(before=(0,), after=(0,), size=args.axes("size", (1,)))
        before, after = _margins(match.group(1), args, "crop")
        return cls(before=before, after=after, size=None)

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        rank = len(sizes)
        if self.size is not None:
            out = per_axis(self.size, rank, head, "size=")
            if any(o > n for o, n in zip(out, sizes, strict=True)):
                raise LayerError(f"{head}: size={show_axes(out)} is larger than the input {show_axes(sizes)}")
        else:
            before = per_axis(self.before, rank, head, "before=")
            after = per_axis(self.after, rank, head, "after=")
            out = tuple(n - b - a for n, b, a in zip(sizes, before, after, strict=True))
            if min(out) < 1:
                raise LayerError(f"{head}: cropping {show_axes(sizes)} leaves nothing ({show_axes(out)})")
        # a view of its input: a layer after it keeps the whole uncropped storage
        return Effect(output_shape=(*out, channels), rf_kernel=(1,) * rank, rf_stride=(1,) * rank, aliases=True, view="strided")
