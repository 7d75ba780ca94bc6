"""Normalisation layers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from .base import Args, Effect, LayerType, Shape, register
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
            formulas={"weights": str(channels), "biases": str(channels), "non_trainable": f"2*{channels}"},
        )


@register
@dataclass(frozen=True)
class LocalResponseNorm(LayerType):
    """``lrn`` (``size=`` neighbouring channels, default 5): normalises across the
    channels of a feature map, so it needs a feature-map input; no parameters."""

    names: ClassVar[tuple[str, ...]] = ("lrn",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^lrn$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"size"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        args.integer("size", 5)
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        spatial(shape, head)
        return Effect(output_shape=shape)
