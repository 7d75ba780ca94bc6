"""Normalisation layers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from .base import INPUT, Args, Effect, LayerError, LayerType, Saved, Shape, register, show_shape
from .geometry import spatial


@register
@dataclass(frozen=True)
class BatchNorm(LayerType):
    """``bn``: gamma and beta (C weights, C biases, trainable), running mean and
    variance (2C non-trainable, Keras's count; PyTorch keeps them as buffers)."""

    names: ClassVar[tuple[str, ...]] = ("bn", "batchnorm")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:bn|batchnorm)$")
    family: ClassVar[str] = "norm"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        channels = shape[-1]
        return Effect(
            output_shape=shape,
            weights=channels,
            biases=channels,
            non_trainable=2 * channels,
            # its input; the batch mean and inverse std, and the running mean and
            # variance (buffers the backward receives): 4C float32, whatever the batch
            saves=(INPUT, Saved("new", 4 * channels, "float32", per_sample=False)),
            view="follow",
            formulas={"weights": str(channels), "biases": str(channels), "non_trainable": f"2*{channels}"},
        )


@register
@dataclass(frozen=True)
class LocalResponseNorm(LayerType):
    """``lrn`` (``size=`` neighbouring channels, default 5): normalises across the
    channels of a feature map, so it needs a feature-map input; no parameters."""

    size: int = 5

    names: ClassVar[tuple[str, ...]] = ("lrn",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^lrn$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"size"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(size=args.integer("size", 5))

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        # F.local_response_norm's steps: the squares padded to C+size-1 channels (kept by
        # its average pooling), the base and the result of the power (kept by pow and
        # the division), and the input (kept by the square and the division)
        positions = math.prod(sizes)
        kept = (channels + self.size - 1) * positions + 2 * channels * positions
        return Effect(output_shape=shape, saves=(INPUT, Saved("new", kept)), view="like")


def _affine(channels: int, affine: bool) -> Effect:
    """A per-channel scale and shift: C weights and C biases when ``affine``."""
    count = channels if affine else 0
    return Effect(
        output_shape=(),
        weights=count,
        biases=count,
        formulas={"weights": str(count), "biases": str(count)},
    )


@register
@dataclass(frozen=True)
class LayerNorm(LayerType):
    """``layernorm`` (``ln``): normalises each position over its C channels (channels
    last, as ConvNeXt's LayerNorm2d and a transformer's over the token dimension); gamma
    and beta are C weights and C biases, nothing non-trainable (no running statistics)."""

    names: ClassVar[tuple[str, ...]] = ("layernorm", "ln")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:layernorm|ln)$")
    family: ClassVar[str] = "norm"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        params = _affine(shape[-1], True)
        positions = math.prod(shape[:-1])  # its input, and a mean and 1/std per position
        return Effect(
            output_shape=shape, weights=params.weights, biases=params.biases, formulas=params.formulas,
            saves=(INPUT, Saved("new", 2 * positions, "float32")), view="channels-last",
        )


@register
@dataclass(frozen=True)
class GroupNorm(LayerType):
    """``groupnorm groups=G`` (``gn``): statistics over G groups of channels, per sample;
    C weights and C biases (``affine=no``: none), nothing non-trainable."""

    groups: int
    affine: bool

    names: ClassVar[tuple[str, ...]] = ("groupnorm", "gn")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:groupnorm|gn)$")
    family: ClassVar[str] = "norm"
    keywords: ClassVar[frozenset[str]] = frozenset({"groups", "affine"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        if "groups" not in args.options:
            raise LayerError(f"{args.head}: give the number of groups, as in groupnorm groups=32")
        return cls(groups=args.integer("groups", 1), affine=args.flag("affine", True))

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, channels = spatial(shape, head)
        if channels % self.groups:
            raise LayerError(f"{head}: {channels} channels do not split into groups={self.groups}")
        if channels // self.groups * math.prod(sizes) < 2:
            raise LayerError(f"{head}: needs more than one value per group (as PyTorch)")
        params = _affine(channels, self.affine)
        return Effect(  # its input, and a mean and 1/std per group and sample
            output_shape=shape, weights=params.weights, biases=params.biases, formulas=params.formulas,
            saves=(Saved("input-suggested"), Saved("new", 2 * self.groups, "float32")),
            view="follow",
        )


@register
@dataclass(frozen=True)
class InstanceNorm(LayerType):
    """``instancenorm``: statistics per sample and channel; no parameters unless
    ``affine=yes`` (C weights, C biases), as PyTorch's InstanceNorm defaults; no running
    statistics."""

    affine: bool

    names: ClassVar[tuple[str, ...]] = ("instancenorm",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^instancenorm$")
    family: ClassVar[str] = "norm"
    keywords: ClassVar[frozenset[str]] = frozenset({"affine"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(affine=args.flag("affine", False))

    def apply(self, shape: Shape, head: str) -> Effect:
        sizes, _ = spatial(shape, head)
        if math.prod(sizes) < 2:
            raise LayerError(f"{head}: needs more than one position per channel, not {show_shape(sizes)} (as PyTorch)")
        params = _affine(shape[-1], self.affine)
        # its input, a mean and 1/std per channel and sample (and, affine, the weight
        # repeated for every sample: PyTorch runs it as a batch norm of N*C channels)
        kept = (3 if self.affine else 2) * shape[-1]
        return Effect(
            output_shape=shape, weights=params.weights, biases=params.biases, formulas=params.formulas,
            saves=(Saved("input-contiguous"), Saved("new", kept, "float32")),
        )


@register
@dataclass(frozen=True)
class LayerScale(LayerType):
    """``layerscale``: multiplies each channel by a learned factor (ConvNeXt, CaiT):
    C trainable weights, 0 MACs."""

    names: ClassVar[tuple[str, ...]] = ("layerscale",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^layerscale$")
    family: ClassVar[str] = "norm"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        channels = shape[-1]
        return Effect(output_shape=shape, weights=channels, formulas={"weights": str(channels)}, saves=(INPUT,),
                      view="like")
